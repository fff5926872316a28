// orderstore console: reads the API with the token the user pasted (kept
// in sessionStorage), writes what it reads as text only: no user data is
// ever parsed as HTML.
'use strict';
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const TOKEN_KEY = 'orderstore.token';
  const MAX_ROWS = 500;

  const token = () => sessionStorage.getItem(TOKEN_KEY) || '';
  function authHeaders(extra) {
    const h = Object.assign({}, extra);
    const t = token();
    if (t) h.Authorization = 'Bearer ' + t;
    return h;
  }

  function status(msg, kind) {
    const s = $('#status');
    s.textContent = msg || '';
    s.className = kind || '';
  }

  // api fetches a JSON answer; a problem becomes an Error with its detail.
  async function api(path, opts = {}) {
    const res = await fetch(path, {
      method: opts.method || 'GET',
      headers: authHeaders(opts.body ? { 'Content-Type': 'application/json' } : {}),
      body: opts.body ? JSON.stringify(opts.body) : undefined,
    });
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    if (!res.ok) {
      let msg = (body && body.detail) || (res.status + ' ' + res.statusText);
      if (res.status === 401) msg = 'This needs a token: paste one above. (' + msg + ')';
      const err = new Error(msg);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  // el builds an element; strings become text nodes, never markup.
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = String(v);
      else if (k.startsWith('data-') || k.startsWith('aria-')) e.setAttribute(k, String(v));
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  // rendered marks the first time a view has drawn what it loaded, as a
  // performance mark (orderstore:render:VIEW) whose startTime is the time
  // since the page's navigation started: what the browser test measures.
  function rendered(view) {
    const name = 'orderstore:render:' + view;
    if (window.performance && performance.mark && !performance.getEntriesByName(name).length) performance.mark(name);
  }
  const td = (text, cls) => el('td', { text: text === undefined || text === null ? '' : text, class: cls });
  const fmtTime = (t) => (t ? new Date(t).toLocaleTimeString() : '');

  // follow reads GET /events/stream with fetch (EventSource cannot send
  // Authorization) and hands each chunk's events to onEvents. A cutoff
  // (the server let a slow reader go) reconnects from where it says.
  function follow(query, lastId, onEvents, onEnd, onOpen) {
    const ctrl = new AbortController();
    let last = lastId;
    const run = async () => {
      for (;;) {
        const h = authHeaders({});
        if (last) h['Last-Event-ID'] = last;
        const res = await fetch('/events/stream' + (query ? '?' + query : ''), { headers: h, signal: ctrl.signal });
        if (!res.ok) {
          let detail = res.status + ' ' + res.statusText;
          try { detail = (await res.json()).detail || detail; } catch (e) { /* not a problem body */ }
          throw new Error(detail);
        }
        if (onOpen) onOpen();
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        let ev = {};
        let cut = null;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          const lines = buf.split('\n');
          buf = lines.pop();
          const batch = [];
          for (const line of lines) {
            if (line === '') {
              if (ev.data !== undefined) {
                if (ev.event === 'cutoff') cut = JSON.parse(ev.data);
                else batch.push(ev);
              }
              ev = {};
              continue;
            }
            if (line[0] === ':') continue;
            const c = line.indexOf(':');
            const field = c < 0 ? line : line.slice(0, c);
            let v = c < 0 ? '' : line.slice(c + 1);
            if (v[0] === ' ') v = v.slice(1);
            if (field === 'id') ev.id = v;
            else if (field === 'event') ev.event = v;
            else if (field === 'data') ev.data = ev.data === undefined ? v : ev.data + '\n' + v;
          }
          if (batch.length) {
            last = batch[batch.length - 1].id;
            onEvents(batch.map((b) => JSON.parse(b.data)));
          }
        }
        if (!cut) return;
        last = String(cut.resume_after);
      }
    };
    run().then(() => onEnd(null), (err) => { if (err.name !== 'AbortError') onEnd(err); });
    return { stop: () => ctrl.abort(), last: () => last };
  }

  // head is the position of the store's last event, as the projections
  // status reports it (positions compare; they are not counted).
  async function head() {
    const st = await api('/projections');
    return st.projections.reduce((h, p) => (p.head > h ? p.head : h), 0);
  }

  // ---- views: each start returns its stop ----

  const views = {};

  views.overview = {
    start() {
      let stream = null;
      let times = [];
      const rate = () => {
        const now = Date.now();
        times = times.filter((t) => now - t.at < 5000);
        const n = times.reduce((s, t) => s + t.n, 0);
        $('#ov-rate').textContent = (n / 5).toFixed(1);
      };
      const refresh = async () => {
        try {
          const st = await api('/projections');
          let h = 0;
          const tbody = $('#ov-projections tbody');
          const rows = st.projections.map((p) => {
            if (p.head > h) h = p.head;
            return el('tr', { 'data-name': p.name }, td(p.name), td(p.state), td(p.position, 'num'),
              td(p.lag + (p.lag_capped ? '+' : ''), 'num'), td(p.lag_seconds.toFixed(1), 'num'));
          });
          tbody.replaceChildren(...rows);
          $('#ov-head').textContent = String(h);
          $('#ov-store').textContent = st.projections.length ? st.projections[0].store : '–';
          if (!stream) {
            stream = follow('after=' + h, '', (evs) => times.push({ at: Date.now(), n: evs.length }), () => {});
          }
          rate();
          rendered('overview');
          status('');
        } catch (err) {
          status(err.message, 'err');
        }
      };
      refresh();
      const timer = setInterval(refresh, 2000);
      return () => { clearInterval(timer); if (stream) stream.stop(); };
    },
  };

  views.live = {
    start() {
      const tbody = $('#live-table tbody');
      const pauseBtn = $('#live-pause');
      let stream = null;
      let paused = false;
      let queue = [];
      let frame = 0;
      let total = 0;
      const render = () => {
        frame = 0;
        // Thousands of events a second: one DOM update a frame, with the
        // newest rows only.
        const take = queue.slice(-MAX_ROWS);
        queue = [];
        const frag = document.createDocumentFragment();
        for (let i = take.length - 1; i >= 0; i--) {
          const e = take[i];
          frag.append(el('tr', { 'data-position': e.position, 'data-stream': e.stream, 'data-type': e.type },
            td(e.position, 'num'), td(fmtTime(e.recorded_at)), td(e.stream), td(e.type),
            td((e.metadata && e.metadata.correlation_id) || '')));
        }
        tbody.prepend(frag);
        while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(-1);
        $('#live-count').textContent = total + ' events';
      };
      const onEvents = (evs) => {
        total += evs.length;
        for (const e of evs) queue.push(e);
        if (!frame) frame = requestAnimationFrame(render);
      };
      const query = () => {
        const q = new URLSearchParams();
        for (const [id, name] of [['#live-corr', 'correlation_id'], ['#live-type', 'type'], ['#live-prefix', 'stream_prefix']]) {
          const v = $(id).value.trim();
          if (v) q.set(name, v);
        }
        return q;
      };
      const connect = async (lastId) => {
        if (stream) stream.stop();
        try {
          const q = query();
          if (!lastId) q.set('after', String(await head()));
          const table = $('#live-table');
          table.dataset.live = 'connecting';
          stream = follow(q.toString(), lastId, onEvents, (err) => {
            table.dataset.live = 'off';
            if (err) status(err.message, 'err');
          }, () => { table.dataset.live = 'on'; });
          status('');
        } catch (err) {
          status(err.message, 'err');
        }
      };
      const onSubmit = (ev) => { ev.preventDefault(); tbody.replaceChildren(); total = 0; connect(''); };
      const onPause = () => {
        paused = !paused;
        pauseBtn.textContent = paused ? 'Resume' : 'Pause';
        pauseBtn.setAttribute('aria-pressed', String(paused));
        if (paused) {
          stream.stop();
          $('#live-table').dataset.live = 'paused';
        } else {
          connect(stream.last()); // from the last event shown: nothing lost
        }
      };
      $('#live-form').addEventListener('submit', onSubmit);
      pauseBtn.addEventListener('click', onPause);
      connect('');
      return () => {
        if (stream) stream.stop();
        if (frame) cancelAnimationFrame(frame);
        $('#live-form').removeEventListener('submit', onSubmit);
        pauseBtn.removeEventListener('click', onPause);
      };
    },
  };

  views.streams = {
    start(arg) {
      const tbody = $('#streams-table tbody');
      const more = $('#streams-more');
      let query = null;
      let next = 0;
      const show = (e, row) => {
        for (const r of tbody.querySelectorAll('tr.selected')) r.classList.remove('selected');
        row.classList.add('selected');
        $('#streams-json').textContent = JSON.stringify(e, null, 2);
      };
      const page = async () => {
        try {
          const q = new URLSearchParams({ stream_prefix: query.prefix, after: String(next), limit: '50' });
          const p = await api('/events?' + q.toString());
          for (const e of p.events) {
            if (query.exact && e.stream !== query.exact) continue;
            const row = el('tr', { 'data-position': e.position, 'data-type': e.type });
            const btn = el('button', { type: 'button', text: e.position, onclick: () => show(e, row) });
            row.append(el('td', {}, btn), td(e.stream), td(e.version, 'num'), td(e.type), td(fmtTime(e.recorded_at)));
            tbody.append(row);
          }
          next = p.next;
          more.disabled = p.events.length < 50;
          if (!tbody.rows.length) status('No events for ' + (query.exact || query.prefix));
          else status('');
        } catch (err) {
          status(err.message, 'err');
        }
      };
      const open = (q) => {
        q = q.trim();
        if (!q) return;
        tbody.replaceChildren();
        $('#streams-json').textContent = '';
        next = 0;
        if (q.endsWith('-')) query = { prefix: q, exact: '' };
        else {
          const stream = q.startsWith('order-') || q.startsWith('stock-') ? q : 'order-' + q;
          query = { prefix: stream, exact: stream };
        }
        page();
      };
      const onSubmit = (ev) => { ev.preventDefault(); open($('#streams-q').value); };
      $('#streams-form').addEventListener('submit', onSubmit);
      more.addEventListener('click', page);
      if (arg) { $('#streams-q').value = arg; open(arg); }
      return () => {
        $('#streams-form').removeEventListener('submit', onSubmit);
        more.removeEventListener('click', page);
      };
    },
  };

  // traceTree draws a trace's nodes as nested lists under their parents.
  function traceTree(t) {
    const children = new Map();
    for (const n of t.nodes) {
      const k = n.parent || '';
      if (!children.has(k)) children.set(k, []);
      children.get(k).push(n);
    }
    const ids = new Set(t.nodes.map((n) => n.id));
    const list = (nodes) => el('ul', {}, ...nodes.map((n) => {
      const parts = [el('span', { class: 'kind kind-' + n.kind, text: n.kind }), el('strong', { text: n.name || n.id })];
      if (n.stream) parts.push(el('span', { class: 'muted', text: n.stream + ' v' + n.version + ' @' + n.position }));
      if (n.kind === 'projection') parts.push(el('span', { class: n.applied ? 'ok' : 'muted', text: n.applied ? 'applied' : 'pending' }));
      if (n.kind === 'saga' && n.state) parts.push(el('span', { class: 'muted', text: (n.detail && n.detail.sku ? n.detail.sku + ' ' : '') + n.state }));
      if (n.kind === 'delivery' && n.detail) {
        const failed = n.detail.status < 200 || n.detail.status > 299;
        parts.push(el('span', { class: failed ? 'err' : 'ok', text: 'attempt ' + n.detail.attempt + ': ' + (n.detail.status || n.detail.error || 'no answer') }));
      }
      if (n.actor) parts.push(el('span', { class: 'muted', text: 'by ' + n.actor }));
      if (n.since_root_ms !== undefined) {
        // A projection's time is its last checkpoint's unless exact: the
        // event was applied by then.
        const bound = n.at_exact === false ? 'by ' : '';
        parts.push(el('span', { class: 'muted', text: bound + '+' + n.since_root_ms.toFixed(1) + ' ms' }));
      }
      const li = el('li', { 'data-node': n.id, 'data-kind': n.kind }, el('span', { class: 'node' }, ...parts));
      const kids = children.get(n.id);
      if (kids) li.append(list(kids));
      return li;
    }));
    // Roots, and nodes whose parent is not in the trace.
    const roots = t.nodes.filter((n) => !n.parent || !ids.has(n.parent));
    return el('section', { 'data-correlation': t.correlation_id },
      el('h3', { text: 'Flow ' + t.correlation_id }), list(roots));
  }

  // loadSaga shows the order's fulfilment saga: its state, payment
  // deadline and steps; an order placed under the track policy has none.
  async function loadSaga(enc) {
    const steps = $('#order-steps');
    steps.replaceChildren();
    let saga;
    try {
      saga = await api('/orders/' + enc + '/fulfilment');
    } catch (err) {
      if (err.status !== 404) throw err;
      $('#order-saga').textContent = 'No fulfilment saga yet.';
      return;
    }
    if (saga.state === 'none') {
      $('#order-saga').textContent = 'No reservation: placed under the track stock policy.';
      return;
    }
    let line = 'State: ' + saga.state;
    if (saga.deadline) line += ' · payment deadline ' + new Date(saga.deadline).toLocaleString();
    if (saga.error) line += ' · error: ' + saga.error;
    $('#order-saga').textContent = line;
    steps.replaceChildren(...saga.steps.map((st) => el('li', { 'data-step': st.step, 'data-result': st.result },
      el('strong', { text: st.step }), ' ', el('span', { text: (st.sku ? st.sku + ' ' : '') + st.result }), ' ',
      el('span', { class: 'muted', text: new Date(st.at).toLocaleString() }))));
  }

  views.order = {
    start(arg) {
      const load = async (id) => {
        $('#order-title').textContent = id;
        try {
          const enc = encodeURIComponent(id);
          const [order, events, traces] = await Promise.all([
            api('/orders/' + enc), api('/orders/' + enc + '/events'), api('/orders/' + enc + '/trace')]);
          const dl = $('#order-state');
          dl.replaceChildren();
          for (const [k, v] of Object.entries(order)) {
            if (v === null || v === '' || (Array.isArray(v) && !v.length)) continue;
            dl.append(el('dt', { text: k }), el('dd', { text: typeof v === 'object' ? JSON.stringify(v) : v }));
          }
          $('#order-timeline').replaceChildren(...events.events.map((e) => el('li', { 'data-type': e.type },
            el('strong', { text: e.type }), ' ', el('span', { class: 'muted', text: 'v' + e.version + ' · ' + new Date(e.recorded_at).toLocaleString() + ' · @' + e.position }))));
          $('#order-trace').replaceChildren(...traces.traces.map(traceTree));
          await loadSaga(enc);
          rendered('order');
          status('');
        } catch (err) {
          status(err.message, 'err');
        }
      };
      const onSubmit = (ev) => { ev.preventDefault(); location.hash = '#/order/' + encodeURIComponent($('#order-q').value.trim()); };
      $('#order-form').addEventListener('submit', onSubmit);
      if (arg) { $('#order-q').value = arg; load(arg); }
      return () => $('#order-form').removeEventListener('submit', onSubmit);
    },
  };

  views.projections = {
    start() {
      const asked = new Set();
      const rebuild = async (name) => {
        try {
          await api('/projections/' + encodeURIComponent(name) + '/rebuild', { method: 'POST' });
          asked.add(name);
          status('Rebuild of ' + name + ' accepted');
          refresh();
        } catch (err) {
          status(err.message, 'err');
        }
      };
      const refresh = async () => {
        try {
          const st = await api('/projections');
          $('#pj-table tbody').replaceChildren(...st.projections.map((p) => {
            const cell = el('td', { class: 'rebuild' });
            if (p.rebuild) {
              cell.append(el('progress', { max: p.rebuild.total || 1, value: p.rebuild.done, 'aria-label': 'rebuild of ' + p.name }),
                el('span', { class: 'muted', text: ' ' + p.rebuild.done + ' / ' + p.rebuild.total }));
            } else if (asked.has(p.name) && p.state === 'live') {
              cell.append(el('span', { class: 'ok rebuild-done', text: 'rebuilt, live' }), ' ');
            }
            if (!p.rebuild) cell.append(el('button', { type: 'button', text: 'Rebuild', onclick: () => rebuild(p.name) }));
            return el('tr', { 'data-name': p.name, 'data-state': p.state }, td(p.name), td(p.version, 'num'), td(p.state, 'state'),
              td(p.position, 'num'), td(p.lag, 'num'), td(p.last_error, p.last_error ? 'err' : ''), cell);
          }));
        } catch (err) {
          status(err.message, 'err');
        }
      };
      refresh();
      const timer = setInterval(refresh, 500);
      return () => clearInterval(timer);
    },
  };

  views.webhooks = {
    start(arg) {
      let selected = arg || '';
      const showDead = async () => {
        $('#wh-selected').textContent = selected || '—';
        if (!selected) { $('#wh-dead tbody').replaceChildren(); return; }
        const page = await api('/webhooks/' + encodeURIComponent(selected) + '/deliveries?state=dead&limit=100');
        $('#wh-dead tbody').replaceChildren(...page.deliveries.map((d) => {
          const last = d.attempts.length ? d.attempts[d.attempts.length - 1] : null;
          const retry = el('button', { type: 'button', text: 'Retry', onclick: () => act('/webhooks/' + encodeURIComponent(selected) + '/deliveries/' + encodeURIComponent(d.id) + '/retry', 'Retry of ' + d.id + ' accepted') });
          return el('tr', { 'data-delivery': d.id }, td(d.event_type), td(d.stream), td(d.position, 'num'), td(d.attempts.length, 'num'),
            td(last ? (last.status ? 'HTTP ' + last.status : '') + (last.error ? ' ' + last.error : '') : '', 'err'), el('td', {}, retry));
        }));
      };
      const act = async (path, done) => {
        try {
          await api(path, { method: 'POST' });
          status(done);
          refresh();
        } catch (err) {
          status(err.message, 'err');
        }
      };
      const refresh = async () => {
        try {
          const list = await api('/webhooks');
          const rows = await Promise.all(list.webhooks.map(async (w) => {
            const dead = await api('/webhooks/' + encodeURIComponent(w.id) + '/deliveries?state=dead&limit=100');
            const n = dead.deliveries.length + (dead.next ? '+' : '');
            const buttons = el('td', {},
              el('button', { type: 'button', text: 'Dead letters', onclick: () => { location.hash = '#/webhooks/' + encodeURIComponent(w.id); } }), ' ',
              el('button', { type: 'button', class: 'retry-dead', text: 'Retry all dead', disabled: !dead.deliveries.length,
                onclick: () => act('/webhooks/' + encodeURIComponent(w.id) + '/dead/retry', 'Retry of the dead letters of ' + w.url + ' accepted') }), ' ',
              el('button', { type: 'button', text: w.state === 'paused' ? 'Resume' : 'Pause',
                onclick: () => act('/webhooks/' + encodeURIComponent(w.id) + (w.state === 'paused' ? '/resume' : '/pause'), w.url + (w.state === 'paused' ? ' resumed' : ' paused')) }));
            return el('tr', { 'data-id': w.id, 'data-state': w.state, 'data-dead': dead.deliveries.length },
              td(w.url + (w.description ? ' — ' + w.description : '')), td(w.state, 'state'),
              td(w.events.length ? w.events.join(', ') : 'all'), td(w.position, 'num'), td(n, 'num'), buttons);
          }));
          $('#wh-table tbody').replaceChildren(...rows);
          await showDead();
        } catch (err) {
          status(err.message, 'err');
        }
      };
      refresh();
      const timer = setInterval(refresh, 1000);
      return () => clearInterval(timer);
    },
  };

  // ---- routing and the token ----

  let stop = null;
  function route() {
    const [, name, ...rest] = location.hash.split('/');
    const view = views[name] ? name : 'overview';
    if (stop) stop();
    status('');
    for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== 'view-' + view;
    for (const a of document.querySelectorAll('nav a')) {
      if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    stop = views[view].start(decodeURIComponent(rest.join('/'))) || null;
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('#token').value = token();
    $('#token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
      route();
    });
    $('#token-clear').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      $('#token').value = '';
      route();
    });
    window.addEventListener('hashchange', route);
    route();
  });
})();
