// faultline web view: plain JS over the API (/api/v1/*), SVG drawn by hand, no build step.
// Refreshes on the live event stream (read with fetch so it can carry the token) and
// every 10 s as a fallback.
'use strict';

(function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  const state = {
    token: localStorage.getItem('faultline.token') || '',
    diagnoses: [],
    nextCursor: undefined,
    selectedId: undefined, // undefined = follow the latest
    diagnosis: undefined,
  };

  // ---------- API ----------
  async function api(path, init) {
    const headers = Object.assign({ accept: 'application/json' }, (init && init.headers) || {});
    if (state.token) headers.authorization = 'Bearer ' + state.token;
    const res = await fetch(path, Object.assign({}, init, { headers }));
    if (res.status === 401) {
      showTokenBar('This faultline needs a token to read.');
      throw new Error('unauthorized');
    }
    const body = res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
    if (!res.ok) throw new Error((body && body.error && body.error.message) || res.statusText);
    return body;
  }

  function showTokenBar(msg) {
    $('token-bar').hidden = false;
    $('token-msg').textContent = msg || '';
  }

  // ---------- helpers ----------
  function el(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function h(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmt(v, digits) {
    if (v === undefined || v === null || Number.isNaN(v)) return '–';
    const a = Math.abs(v);
    if (a >= 1000) return (v / 1000).toFixed(1) + 'k';
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(digits === undefined ? 1 : digits);
    return v.toFixed(digits === undefined ? 2 : digits);
  }
  // '1' is UCUM for a plain ratio: not worth printing.
  function unit(u) {
    return u && u !== '1' ? ' ' + u : '';
  }
  function time(ms) {
    const d = new Date(ms);
    return d.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
  }

  // ---------- diagnoses list ----------
  async function loadDiagnoses(append) {
    const q = new URLSearchParams({ limit: '30' });
    if (append && state.nextCursor) q.set('cursor', state.nextCursor);
    const page = await api('/api/v1/diagnoses?' + q);
    state.diagnoses = append ? state.diagnoses.concat(page.items) : page.items;
    state.nextCursor = page.nextCursor;
    renderDiagnoses();
  }

  function renderDiagnoses() {
    const list = $('diagnoses');
    list.replaceChildren();
    const current = state.selectedId || (state.diagnoses[0] && state.diagnoses[0].id);
    for (const d of state.diagnoses) {
      const li = h('li', d.id === current ? 'selected' : '');
      li.dataset.id = d.id;
      const rc = d.rootCause;
      if (!rc || !d.detected) li.classList.add('nothing');
      li.append(h('span', 'svc', rc && d.detected ? rc.service + ' · ' + rc.kind : 'no anomaly'));
      li.append(h('span', 'when', time(d.createdAtMs) + ' · ' + d.source));
      li.title = d.summary;
      li.addEventListener('click', () => {
        state.selectedId = d.id === state.diagnoses[0].id ? undefined : d.id;
        refresh();
      });
      list.append(li);
    }
    if (state.diagnoses.length === 0) list.append(h('li', 'nothing', 'none yet'));
    $('more').hidden = !state.nextCursor;
  }

  // ---------- diagnosis detail ----------
  function renderDiagnosis(d) {
    const box = $('root-cause');
    box.replaceChildren();
    $('evidence').replaceChildren();
    const tbody = $('causes').querySelector('tbody');
    tbody.replaceChildren();
    $('explanation').textContent = d ? d.explanation : '';
    if (!d) {
      box.append(h('p', 'empty', 'No diagnosis yet.'));
      return;
    }
    const top = d.anomaly && d.anomaly.detected === false ? undefined : d.causes[0];
    if (top) {
      const line = h('div');
      const svc = h('span', 'service', top.service + (top.instance && top.instance !== top.service ? ' (' + top.instance + ')' : ''));
      svc.id = 'root-cause-service';
      line.append(svc, h('span', 'kind', top.kind));
      box.append(line);
      box.append(h('div', 'meta', 'confidence ' + Math.round(top.confidence * 100) + '% · score ' + fmt(top.score) + (top.operation ? ' · ' + top.operation : '')));
    } else {
      box.append(h('p', 'empty', 'No root cause: nothing anomalous in this window.'));
    }
    box.append(h('p', 'summary', d.summary));
    if (d.propagationPath && d.propagationPath.length) box.append(h('div', 'path', 'path: ' + d.propagationPath.join(' → ')));
    box.append(h('div', 'meta', 'window ' + time(d.window.fromMs) + ' – ' + time(d.window.toMs) + ' · ' + d.timing.spans + ' spans' + (d.timing.sampledTraces ? ' (' + fmt(d.timing.sampledTraces * 100, 1) + ' % of traces)' : '') + ' · ' + fmt(d.timing.analysisMs, 0) + ' ms · ' + d.id));

    d.causes.forEach((c, i) => {
      const tr = h('tr', i === 0 && top ? 'top' : '');
      for (const v of [String(i + 1), c.service, c.kind, fmt(c.score), Math.round(c.confidence * 100) + '%']) tr.append(h('td', '', v));
      tbody.append(tr);
    });

    const changeAt = d.anomaly && d.anomaly.changeAtMs;
    for (const ev of (top ? top.evidence : []).slice(0, 6)) $('evidence').append(renderEvidence(ev, changeAt));
  }

  function renderEvidence(ev, changeAt) {
    const box = h('div', 'ev');
    box.dataset.evidence = ev.id;
    box.append(h('div', 'title', ev.title));
    const where = [ev.service, ev.operation, ev.edge ? ev.edge.from + '→' + ev.edge.to : '', ev.series].filter(Boolean).join(' · ');
    box.append(h('div', 'sub', where + ' — before ' + fmt(ev.before) + ' → after ' + fmt(ev.after) + unit(ev.unit)));
    box.append(ev.points && ev.points.length >= 2 ? seriesChart(ev, changeAt) : barChart(ev));
    return box;
  }

  // A line over time with the change marked and the before/after levels dashed.
  function seriesChart(ev, changeAt) {
    const W = 360, H = 70, P = 4;
    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none' });
    const xs = ev.points.map((p) => p[0]);
    const ys = ev.points.map((p) => p[1]).concat([ev.before, ev.after]);
    const x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    const y0 = Math.min(0, Math.min.apply(null, ys)), y1 = Math.max.apply(null, ys) || 1;
    const X = (t) => P + ((t - x0) / (x1 - x0 || 1)) * (W - 2 * P);
    const Y = (v) => H - 12 - ((v - y0) / (y1 - y0 || 1)) * (H - 20);
    const cx = changeAt !== undefined && changeAt >= x0 && changeAt <= x1 ? X(changeAt) : undefined;
    svg.append(el('line', { class: 'level-before', x1: P, x2: cx !== undefined ? cx : W / 2, y1: Y(ev.before), y2: Y(ev.before) }));
    svg.append(el('line', { class: 'level-after', x1: cx !== undefined ? cx : W / 2, x2: W - P, y1: Y(ev.after), y2: Y(ev.after) }));
    if (cx !== undefined) svg.append(el('line', { class: 'change', x1: cx, x2: cx, y1: 2, y2: H - 10 }));
    svg.append(el('polyline', { points: ev.points.map((p) => X(p[0]).toFixed(1) + ',' + Y(p[1]).toFixed(1)).join(' ') }));
    svg.append(el('text', { x: P, y: H - 1 }, 'before ' + fmt(ev.before)));
    svg.append(el('text', { x: W - P, y: H - 1, 'text-anchor': 'end' }, 'after ' + fmt(ev.after) + unit(ev.unit)));
    return svg;
  }

  // Two bars when the evidence has no time series.
  function barChart(ev) {
    const W = 360, H = 70;
    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H });
    const m = Math.max(Math.abs(ev.before), Math.abs(ev.after)) || 1;
    const bw = (v) => Math.max(2, (Math.abs(v) / m) * (W - 120));
    svg.append(el('text', { x: 0, y: 22 }, 'before'));
    svg.append(el('rect', { class: 'before', x: 50, y: 10, height: 16, width: bw(ev.before) }));
    svg.append(el('text', { x: 54 + bw(ev.before), y: 22 }, fmt(ev.before) + unit(ev.unit)));
    svg.append(el('text', { x: 0, y: 52 }, 'after'));
    svg.append(el('rect', { class: 'after', x: 50, y: 40, height: 16, width: bw(ev.after) }));
    svg.append(el('text', { x: 54 + bw(ev.after), y: 52 }, fmt(ev.after) + unit(ev.unit)));
    return svg;
  }

  // ---------- graph ----------
  // Layers left to right by call depth from the entry points (services nobody calls);
  // within a layer, ordered by the mean position of callers to reduce crossings.
  function layout(graph) {
    const names = graph.nodes.map((n) => n.service);
    const out = new Map(names.map((n) => [n, []]));
    const indeg = new Map(names.map((n) => [n, 0]));
    for (const e of graph.edges) {
      if (e.from === e.to || !out.has(e.from) || !out.has(e.to)) continue;
      out.get(e.from).push(e.to);
      indeg.set(e.to, indeg.get(e.to) + 1);
    }
    let entries = names.filter((n) => indeg.get(n) === 0);
    if (entries.length === 0 && names.length) entries = [names[0]];
    const depth = new Map();
    const queue = entries.map((n) => [n, 0]);
    entries.forEach((n) => depth.set(n, 0));
    // Longest path from an entry, bounded so cycles cannot loop forever.
    while (queue.length) {
      const [n, d] = queue.shift();
      for (const m of out.get(n)) {
        if ((depth.get(m) === undefined || depth.get(m) < d + 1) && d + 1 < names.length) {
          depth.set(m, d + 1);
          queue.push([m, d + 1]);
        }
      }
    }
    for (const n of names) if (!depth.has(n)) depth.set(n, 0);
    const layers = [];
    for (const n of names) (layers[depth.get(n)] = layers[depth.get(n)] || []).push(n);
    const pos = new Map();
    layers.forEach((layer, li) => {
      if (li > 0) {
        const score = (n) => {
          const ps = graph.edges.filter((e) => e.to === n && pos.has(e.from)).map((e) => pos.get(e.from).row);
          return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : 1e9;
        };
        layer.sort((a, b) => score(a) - score(b) || a.localeCompare(b));
      } else layer.sort();
      layer.forEach((n, row) => pos.set(n, { layer: li, row, rows: layer.length }));
    });
    return { layers, pos };
  }

  function renderGraph(graph) {
    const svg = $('graph');
    svg.replaceChildren();
    $('graph-empty').hidden = graph.nodes.length > 0;
    $('graph-window').textContent = graph.nodes.length
      ? time(graph.fromMs) + ' – ' + time(graph.toMs) + (graph.sampledTraces ? ' · from ' + fmt(graph.sampledTraces * 100, 1) + ' % of traces, counts scaled' : '')
      : '';
    if (!graph.nodes.length) {
      svg.setAttribute('viewBox', '0 0 10 10');
      return;
    }
    const NW = 150, NH = 48, GX = 120, GY = 22;
    const { layers, pos } = layout(graph);
    const maxRows = Math.max.apply(null, layers.map((l) => l.length));
    const W = layers.length * NW + (layers.length - 1) * GX + 20;
    const H = maxRows * NH + (maxRows - 1) * GY + 30;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    // Natural size, shrunk only when the panel is narrower (CSS max-width), so text stays legible.
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    const xy = (n) => {
      const p = pos.get(n);
      const colH = p.rows * NH + (p.rows - 1) * GY;
      return { x: 10 + p.layer * (NW + GX), y: 15 + (H - 30 - colH) / 2 + p.row * (NH + GY) };
    };
    const defs = el('defs');
    const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#90a4ae' }));
    defs.append(marker);
    svg.append(defs);

    const health = new Map(graph.nodes.map((n) => [n.service, n.health || 'unknown']));
    const path = graph.rootCause && state.diagnosis ? state.diagnosis.propagationPath || [] : [];
    const onPath = (a, b) => {
      for (let i = 0; i + 1 < path.length; i++) if (path[i + 1] === a && path[i] === b) return true;
      return false;
    };
    for (const e of graph.edges) {
      if (!pos.has(e.from) || !pos.has(e.to)) continue;
      const a = xy(e.from), b = xy(e.to);
      let d;
      if (e.from === e.to) d = 'M ' + (a.x + NW - 20) + ' ' + a.y + ' c 30 -30 50 0 10 ' + 10;
      else {
        const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2;
        const back = x2 <= x1;
        const mx = back ? Math.max(x1, x2 + NW) + 40 : (x1 + x2) / 2;
        d = back ? 'M ' + x1 + ' ' + y1 + ' C ' + mx + ' ' + y1 + ' ' + mx + ' ' + (y2 - 40) + ' ' + (x2 + NW / 2) + ' ' + (b.y) : 'M ' + x1 + ' ' + y1 + ' C ' + mx + ' ' + y1 + ' ' + mx + ' ' + y2 + ' ' + x2 + ' ' + y2;
      }
      const cls = ['edge'];
      if (e.stats.errorRate > 0.05) cls.push('errors');
      if (onPath(e.from, e.to) || (graph.rootCause === e.to && health.get(e.from) !== 'ok')) cls.push('hot');
      const g = el('g', { class: cls.join(' '), 'data-edge': e.from + '->' + e.to });
      g.append(el('path', { d, 'marker-end': 'url(#arrow)' }));
      g.append(el('title', {}, e.from + ' → ' + e.to + ': ' + e.stats.calls + ' calls, ' + fmt(e.stats.ratePerSec) + '/s, p95 ' + fmt(e.stats.p95Ms) + ' ms, errors ' + fmt(e.stats.errorRate * 100, 1) + '%' + (e.meanGapMs !== undefined ? ', network gap ' + fmt(e.meanGapMs) + ' ms' : '')));
      if (e.from !== e.to && b.x > a.x) {
        const lx = (a.x + NW + b.x) / 2, ly = (a.y + b.y + NH) / 2 - 4;
        g.append(el('text', { x: lx, y: ly, 'text-anchor': 'middle' }, 'p95 ' + fmt(e.stats.p95Ms) + 'ms' + (e.stats.errorRate > 0 ? ' · ' + fmt(e.stats.errorRate * 100, 1) + '% err' : '')));
      }
      svg.append(g);
    }
    for (const n of graph.nodes) {
      const { x, y } = xy(n.service);
      const hcls = health.get(n.service);
      const g = el('g', { class: 'node ' + hcls + (n.virtual ? ' virtual' : ''), 'data-service': n.service, 'data-health': hcls, transform: 'translate(' + x + ',' + y + ')' });
      g.append(el('rect', { width: NW, height: NH, rx: 6, ry: 6 }));
      const label = n.service.length > 20 ? n.service.slice(0, 19) + '…' : n.service;
      g.append(el('text', { class: 'name', x: 8, y: 19 }, label));
      const s = n.stats;
      g.append(el('text', { class: 'stats', x: 8, y: 37 }, s.calls ? fmt(s.ratePerSec) + '/s · p95 ' + fmt(s.p95Ms) + 'ms' + (s.errorRate > 0 ? ' · ' + fmt(s.errorRate * 100, 1) + '% err' : '') : n.virtual ? 'not instrumented' : 'no server spans'));
      if (hcls === 'critical') g.append(el('text', { class: 'badge', x: NW - 6, y: 12, 'text-anchor': 'end' }, 'ROOT CAUSE'));
      g.append(el('title', {}, n.service + '\ninstances: ' + (n.instances || []).join(', ') + '\nhosts: ' + (n.hosts || []).join(', ') + '\ncalls: ' + s.calls + ', p50 ' + fmt(s.p50Ms) + ' ms, p99 ' + fmt(s.p99Ms) + ' ms'));
      svg.append(g);
    }
  }

  // ---------- refresh ----------
  let refreshing = false;
  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      await loadDiagnoses(false);
      const id = state.selectedId || (state.diagnoses[0] && state.diagnoses[0].id);
      state.diagnosis = id ? await api('/api/v1/diagnoses/' + encodeURIComponent(id)) : undefined;
      renderDiagnosis(state.diagnosis);
      const choice = $('window-select').value;
      const q = new URLSearchParams();
      if (state.diagnosis) q.set('diagnosisId', state.diagnosis.id);
      let graph;
      if (choice === 'diagnosis' && state.diagnosis) {
        q.set('fromMs', String(state.diagnosis.window.fromMs));
        q.set('toMs', String(state.diagnosis.window.toMs));
        graph = await api('/api/v1/graph?' + q);
        q.delete('fromMs');
        q.delete('toMs');
      }
      if (!graph || graph.nodes.length === 0) {
        q.set('lastMinutes', choice === 'diagnosis' ? '15' : choice);
        graph = await api('/api/v1/graph?' + q);
      }
      renderGraph(graph);
      $('status').textContent = 'updated ' + new Date().toLocaleTimeString() + (stream.live ? ' · live' : '');
      document.body.dataset.ready = 'true';
    } catch (err) {
      $('status').textContent = 'error: ' + err.message;
    } finally {
      refreshing = false;
    }
  }

  // The event stream, read with fetch so the Authorization header can go with it.
  const stream = { live: false };
  async function follow() {
    for (;;) {
      try {
        const headers = state.token ? { authorization: 'Bearer ' + state.token } : {};
        const res = await fetch('/api/v1/events', { headers });
        if (!res.ok || !res.body) throw new Error('events: ' + res.status);
        stream.live = true;
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (/^event: (anomaly|diagnosis)/m.test(block)) refresh();
          }
        }
      } catch (err) {
        // fall through to retry
      }
      stream.live = false;
      await new Promise((r) => setTimeout(r, 5000));
    }
  }

  $('more').addEventListener('click', () => loadDiagnoses(true).catch(() => {}));
  $('window-select').addEventListener('change', refresh);
  $('token-save').addEventListener('click', () => {
    state.token = $('token-input').value.trim();
    localStorage.setItem('faultline.token', state.token);
    $('token-bar').hidden = true;
    refresh();
  });
  $('diagnose-now').addEventListener('click', async () => {
    try {
      $('status').textContent = 'diagnosing…';
      const d = await api('/api/v1/diagnoses', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lastMinutes: 10 }) });
      state.selectedId = undefined;
      void d;
      await refresh();
    } catch (err) {
      if (/token|unauthorized|forbidden/i.test(err.message)) showTokenBar(err.message);
      $('status').textContent = 'error: ' + err.message;
    }
  });

  refresh();
  follow();
  setInterval(refresh, 10000);
})();
