package domain

import "strings"

// activeCurrencies lists the circulating currencies of ISO 4217 list one,
// one code a token. Funds codes (BOV, CLF, USN…), precious metals,
// supranational units, testing and "no currency" codes are left out, as are
// withdrawn codes (ANG, BGN, HRK, SLL, ZWL…).
const activeCurrencies = "" +
	"AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND " +
	"BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE " +
	"CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD " +
	"GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY " +
	"KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD " +
	"MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO " +
	"NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF " +
	"SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB " +
	"TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND " +
	"VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG"

// Currencies returns the currency codes ValidCurrency accepts, sorted.
func Currencies() []string { return strings.Fields(activeCurrencies) }

// ValidCurrency returns nil if s is the upper-case code of a circulating
// ISO 4217 currency (see Currencies), or else a *ValidationError for the
// field "currency".
func ValidCurrency(s string) error { return checkCurrency("currency", s) }

func checkCurrency(field, s string) error {
	if s == "" {
		return invalid(field, "is required")
	}
	if len(s) != 3 || strings.IndexFunc(s, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return invalid(field, "must be a three-letter upper-case ISO 4217 code")
	}
	// Every token is three letters and s holds no space, so a match is a
	// whole token.
	if !strings.Contains(activeCurrencies, s) {
		return invalid(field, "is not a known ISO 4217 currency code")
	}
	return nil
}
