// Shared by `rnnkit inspect`'s page and `rnnkit serve`'s form page: draws a page's data
// (rnnkit/viz/inspect_units.py, page_from_traces) into a container. The data is its first
// segment's fields plus `more`, the other segments. Each segment is one sequence as one
// stack read it (its `net`: 0 the input's stack, 1 seq2seq's decoder). Per net: a layer and
// unit control and a unit search; per segment: its tokens coloured by the chosen unit, a
// strip under them (class probabilities, or the tag and its confidence) and, on hover, the
// step's distribution. Element ids of net 0 and segment 0 have no suffix (`layer`, `unit`,
// `text`, `ranking`), the others `-N`.
"use strict";
const Units = (() => {
  const CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  function color(a) {               // a in [-1, 1] -> background colour: blue < 0 < red
    const m = Math.min(1, Math.abs(a));
    if (a >= 0) return `rgb(255,${Math.round(255 - 215 * m)},${Math.round(255 - 215 * m)})`;
    return `rgb(${Math.round(255 - 217 * m)},${Math.round(255 - 145 * m)},${Math.round(255 - 45 * m)})`;
  }
  function show(ch) { return ch === "\n" ? "\\n" : ch === " " ? "\u2423" : ch === "\t" ? "\\t" : ch; }
  function escapeHtml(s) { return s.replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c])); }
  function sfx(i) { return i ? "-" + i : ""; }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // The tokens of segment S: one span.c per token (in a cell with its strip when S has one).
  function drawText(S, i, box) {
    const spans = [];
    const frag = document.createDocumentFragment();
    const cells = !!S.strip;
    if (cells) box.classList.add("cells");
    for (let t = 0; t < S.chars.length; t++) {
      const ch = S.chars[t], s = el("span", "c");
      s.dataset.seg = i; s.dataset.t = t;
      if (ch === "\n") { s.textContent = "\u21b5"; s.classList.add("nl"); }
      else s.textContent = cells && ch === " " ? "\u00a0" : ch;
      let node = s;
      if (cells) {
        node = el("span", "cell");
        node.appendChild(s);
        node.appendChild(drawStrip(S, t));
      }
      frag.appendChild(node);
      if (ch === "\n") frag.appendChild(cells ? el("br") : document.createTextNode("\n"));
      else if (S.words && t + 1 < S.chars.length) frag.appendChild(document.createTextNode(" "));
      spans.push(s);
    }
    box.appendChild(frag);
    return spans;
  }

  // Under token t: each class's probability as a stacked bar (the top classes; the rest grey),
  // or the most probable tag, its background as strong as its probability.
  function drawStrip(S, t) {
    const ids = S.top_ids[t], ps = S.top_p[t];
    if (S.strip === "classes") {
      const bar = el("span", "strip");
      bar.title = ids.map((k, j) => `${S.vocab[k]} ${(100 * ps[j]).toFixed(1)}%`).join(", ");
      for (let j = 0; j < ids.length; j++) {
        const part = el("span");
        part.style.height = (100 * ps[j]).toFixed(1) + "%";
        part.style.background = CLASS_COLORS[ids[j] % CLASS_COLORS.length];
        bar.appendChild(part);
      }
      return bar;
    }
    const tag = el("span", "tag", S.vocab[ids[0]]);
    tag.style.background = `rgba(92,107,192,${(0.85 * ps[0]).toFixed(3)})`;
    tag.title = `tag ${S.vocab[ids[0]]}, p = ${ps[0].toFixed(3)}`;
    return tag;
  }

  function swatches(S) {
    const box = el("div", "swatches");
    S.vocab.slice(0, 30).forEach((name, k) => {
      const item = el("span");
      const sw = el("i");
      sw.style.background = CLASS_COLORS[k % CLASS_COLORS.length];
      item.append(sw, document.createTextNode(name));
      box.appendChild(item);
    });
    return box;
  }

  function render(D, root, tip) {
    root.textContent = "";
    root.classList.add("units");
    const segs = [D, ...(D.more || [])];
    const nets = [...new Set(segs.map(S => S.net || 0))];
    const left = el("div", "left"), right = el("div", "right");
    root.append(left, right);
    const cur = {};  // net -> {layer, unit, segs: [segment index], first: the net's first segment}

    for (const net of nets) {
      const first = segs.find(S => (S.net || 0) === net);
      cur[net] = { layer: first.initial.layer, unit: first.initial.unit, segs: [], first };
      const c = el("div", "controls");
      if (nets.length > 1) c.appendChild(el("span", "net", first.stack));
      const lab = el("label", "", "layer "), sel = el("select");
      sel.id = "layer" + sfx(net);
      for (let l = 0; l < first.layers; l++) sel.appendChild(Object.assign(el("option", "", String(l)), { value: l }));
      lab.appendChild(sel);
      const ulab = el("label", "", "unit "), unit = el("input");
      Object.assign(unit, { id: "unit" + sfx(net), type: "number", min: 0, step: 1, max: first.width - 1 });
      ulab.appendChild(unit);
      const prev = el("button", "", "\u25c0"), next = el("button", "", "\u25b6");
      prev.id = "prev" + sfx(net); next.id = "next" + sfx(net);
      prev.title = "previous unit"; next.title = "next unit";
      const legend = el("span", "legend");
      legend.append("-1 ", el("span", "bar"), " +1");
      const stats = el("span", "muted"); stats.id = "stats" + sfx(net);
      c.append(lab, ulab, prev, next, legend, stats);
      left.appendChild(c);
      sel.onchange = () => select(net, +sel.value, cur[net].unit);
      unit.onchange = () => select(net, cur[net].layer, +unit.value);
      prev.onclick = () => select(net, cur[net].layer, cur[net].unit - 1);
      next.onclick = () => select(net, cur[net].layer, cur[net].unit + 1);
    }

    const spans = [];
    segs.forEach((S, i) => {
      const box = el("div", "seg");
      if (segs.length > 1 || S.summary) {
        const title = el("div", "segtitle");
        title.innerHTML = `${escapeHtml(S.name)}` + (S.summary ? ` \u2192 <b>${escapeHtml(S.summary)}</b>` : "");
        box.appendChild(title);
      }
      const text = el("div", "text");
      text.id = "text" + sfx(i);
      box.appendChild(text);
      spans.push(drawText(S, i, text));
      if (S.strip === "classes") box.appendChild(swatches(S));
      left.appendChild(box);
      cur[S.net || 0].segs.push(i);
    });
    const what = segs.some(S => S.words) ? "token" : "character";
    left.appendChild(el("p", "muted", `Each ${what} is coloured by the chosen unit's activation h_t after reading it. ` +
      `Rest the pointer on a ${what} for the model's distribution at that step.`));

    for (const net of nets) {
      const first = cur[net].first, panel = el("div", "panel");
      panel.appendChild(el("h2", "", nets.length > 1 ? `Unit search (${first.stack.split(":")[0]})` : "Unit search"));
      panel.appendChild(el("div", "desc", "Units ranked by |Pearson r| between their activation and a signal of the text. Click one to show it."));
      const rk = el("div"); rk.id = "ranking" + sfx(net);
      for (const [name, desc] of Object.entries(D.signals)) {
        const h = el("div");
        h.innerHTML = `<b>${name}</b> <span class="muted">(${desc})</span>`;
        rk.appendChild(h);
        const list = (first.ranking || {})[name] || [];
        if (!list.length) { rk.appendChild(el("div", "muted", "constant in this text")); continue; }
        const tb = el("table", "rank");
        for (const e of list.slice(0, 5)) {
          const tr = el("tr");
          tr.dataset.layer = e.layer; tr.dataset.unit = e.unit; tr.dataset.net = net;
          const w = Math.round(Math.abs(e.r) * 80);
          tr.innerHTML = `<td>layer ${e.layer}</td><td>unit ${e.unit}</td><td style="text-align:right">${e.r >= 0 ? "+" : ""}${e.r.toFixed(2)}</td>` +
                         `<td><span class="rbar" style="width:${w}px;background:${e.r >= 0 ? "#e53935" : "#1e88e5"}"></span></td>`;
          tr.onclick = () => select(net, e.layer, e.unit);
          tb.appendChild(tr);
        }
        rk.appendChild(tb);
      }
      panel.appendChild(rk);
      right.appendChild(panel);
    }

    function select(net, layer, unit) {
      const c = cur[net], W = c.first.width;
      c.layer = Math.max(0, Math.min(c.first.layers - 1, layer));
      c.unit = ((unit % W) + W) % W;
      document.getElementById("layer" + sfx(net)).value = c.layer;
      document.getElementById("unit" + sfx(net)).value = c.unit;
      let sum = 0, n = 0, lo = Infinity, hi = -Infinity;
      for (const i of c.segs) {
        const a = segs[i].acts[c.layer][c.unit];
        for (let t = 0; t < a.length; t++) {
          const v = a[t] / D.act_scale;
          spans[i][t].style.backgroundColor = color(v);
          sum += v; n++; lo = Math.min(lo, v); hi = Math.max(hi, v);
        }
      }
      document.getElementById("stats" + sfx(net)).textContent =
        n ? `mean ${(sum / n).toFixed(3)}, min ${lo.toFixed(3)}, max ${hi.toFixed(3)}` : "";
      root.querySelectorAll(`table.rank tr[data-net="${net}"]`).forEach(tr =>
        tr.classList.toggle("sel", +tr.dataset.layer === c.layer && +tr.dataset.unit === c.unit));
    }
    for (const net of nets) select(net, cur[net].layer, cur[net].unit);

    // Hover: the activation and the step's distribution (its top entries).
    root.onmousemove = ev => {
      const s = ev.target.closest && ev.target.closest("span.c");
      if (!s) { tip.style.display = "none"; return; }
      const S = segs[+s.dataset.seg], t = +s.dataset.t, c = cur[S.net || 0];
      const a = S.acts[c.layer][c.unit][t] / D.act_scale;
      let html = `<div>${S.words ? "token" : "char"} <b>${escapeHtml(show(S.chars[t]))}</b> at ${t}; h = ${a.toFixed(3)}</div>`;
      if (S.top_ids.length) {
        html += `<div class="muted">${escapeHtml(S.dist_title)}:</div>`;
        for (let k = 0; k < S.top_ids[t].length; k++) {
          const p = S.top_p[t][k], name = S.vocab[S.top_ids[t][k]];
          html += `<div class="row"><span class="ch">${escapeHtml(show(name))}</span><span class="pb" style="width:${Math.round(p * 110)}px"></span><span class="pv">${(p * 100).toFixed(1)}%</span></div>`;
        }
      }
      tip.innerHTML = html;
      tip.style.display = "block";
      tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 220) + "px";
      tip.style.top = (ev.clientY + 16) + "px";
    };
    root.onmouseleave = () => { tip.style.display = "none"; };
  }
  return { render, color, show, escapeHtml };
})();
