/* flowload: the charts of Locust's "Streaming" tab. No dependencies, no network but /flowload/.
 *
 * Locust's page is a React app that renders an extra tab as a table. This script adds, above that
 * table and only while the tab is open, the run's live view from /flowload/live.json: a card per
 * env (side by side), one inline-SVG chart per metric with a line per env, the error of a START
 * that failed, and a link to the report when the run has ended.
 */
(function () {
  "use strict";

  var TAB = "flowload-streaming";
  var LIVE_URL = "/flowload/live.json";
  var POLL_MS = 2000;
  // key, title, unit in the cards, unit in the chart's title
  var CHARTS = [
    ["ttfi_p95_ms", "TTFI p95", "ms", " (ms)"],
    ["itl_p99_ms", "ITL p99", "ms", " (ms)"],
    ["in_flight", "Streams in flight", "", ""],
    ["streams_per_s", "Streams/s", "/s", ""],
    ["items_per_s", "Items/s", "/s", ""],
  ];
  var SVG_NS = "http://www.w3.org/2000/svg";
  var W = 440, H = 200, LEFT = 60, RIGHT = 12, TOP = 12, BOTTOM = 26;
  var panel = null;
  var last = null;

  function tabIsOpen() {
    return new URLSearchParams(window.location.search).get("tab") === TAB;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function number(value, unit) {
    if (value === null || value === undefined) return "–";
    var abs = Math.abs(value);
    var text = abs >= 100 ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : value.toFixed(2);
    if (text.indexOf(".") >= 0) text = text.replace(/0+$/, "").replace(/\.$/, "");
    return unit === "ms" ? text + " ms" : unit === "/s" ? text + "/s" : text;
  }

  function clock(seconds) {
    var s = Math.max(0, Math.round(seconds));
    var m = Math.floor(s / 60);
    return m + ":" + String(s % 60).padStart(2, "0");
  }

  // A round tick step (1, 2, 2.5 or 5 times a power of ten) giving at most 4 steps to max.
  function niceStep(max) {
    var raw = max > 0 ? max / 4 : 0.25;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * power >= raw) return steps[i] * power;
    }
    return 10 * power;
  }

  function style() {
    var css = [
      "#flowload-live{margin:8px 0 16px;font-family:inherit;color:inherit}",
      "#flowload-live .fl-note{font-size:13px;opacity:.75;margin:4px 0 10px}",
      "#flowload-live .fl-banner{padding:10px 14px;border-radius:4px;margin:0 0 12px;font-size:14px}",
      "#flowload-live .fl-error{background:#fdecea;color:#611a15;border:1px solid #f5c2c0}",
      "#flowload-live .fl-report{background:#e8f4fd;color:#0d3c61;border:1px solid #b6dcf7}",
      "#flowload-live .fl-report a{color:inherit;font-weight:600}",
      "#flowload-live .fl-cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:12px}",
      "#flowload-live .fl-card{flex:1 1 220px;border:1px solid rgba(128,128,128,.35);",
      "border-radius:6px;padding:10px 12px;border-top-width:4px}",
      "#flowload-live .fl-card h3{margin:0 0 6px;font-size:15px;font-weight:600}",
      "#flowload-live .fl-card dl{display:grid;grid-template-columns:auto auto;gap:2px 12px;margin:0;",
      "font-size:13px}",
      "#flowload-live .fl-card dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}",
      "#flowload-live .fl-charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));",
      "gap:12px}",
      "#flowload-live figure{margin:0;border:1px solid rgba(128,128,128,.35);border-radius:6px;",
      "padding:8px 8px 4px}",
      "#flowload-live figcaption{font-size:14px;font-weight:600;display:flex;flex-wrap:wrap;",
      "gap:4px 14px;align-items:center}",
      "#flowload-live .fl-key{font-weight:400;font-size:12px;display:inline-flex;align-items:center;",
      "gap:4px}",
      "#flowload-live .fl-swatch{width:14px;height:3px;display:inline-block}",
      "#flowload-live svg{width:100%;height:auto;display:block}",
      "#flowload-live svg text{fill:currentColor;font-size:13px}",
      "#flowload-live svg .fl-grid{stroke:rgba(128,128,128,.3);stroke-width:1}",
    ].join("");
    return el("style", {}, css);
  }

  function mountPoint() {
    var container = document.querySelector("main .MuiContainer-root");
    if (!container || !container.firstElementChild) return null;
    return container;
  }

  function ensurePanel() {
    var container = mountPoint();
    if (!container) return null;
    if (!panel) {
      panel = el("section", { id: "flowload-live", "aria-label": "flowload live streaming view" });
      panel.appendChild(style());
      panel.appendChild(el("div", { class: "fl-body" }));
    }
    if (panel.parentNode !== container || panel.previousElementSibling !== container.firstElementChild) {
      container.insertBefore(panel, container.firstElementChild.nextSibling);
    }
    return panel;
  }

  function chart(key, title, data) {
    var figure = el("figure", { "data-chart": key });
    var caption = el("figcaption", {}, title);
    data.envs.forEach(function (env) {
      var swatch = el("span", { class: "fl-swatch", style: "background:" + colour(data, env) });
      var item = el("span", { class: "fl-key" });
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(env));
      caption.appendChild(item);
    });
    figure.appendChild(caption);
    var times = data.t || [];
    var box = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title });
    var top = 0;
    data.envs.forEach(function (env) {
      (data.series[env] ? data.series[env][key] : []).forEach(function (v) {
        if (v !== null && v > top) top = v;
      });
    });
    var step = niceStep(top);
    top = Math.max(step, Math.ceil(top / step - 1e-9) * step);
    var t0 = times.length ? times[0] : 0;
    var t1 = times.length ? Math.max(times[times.length - 1], t0 + 1) : 60;
    var x = function (t) { return LEFT + ((t - t0) / (t1 - t0)) * (W - LEFT - RIGHT); };
    var y = function (v) { return H - BOTTOM - (v / top) * (H - TOP - BOTTOM); };
    for (var value = 0; value <= top + step / 2; value += step) {
      box.appendChild(svg("line", { class: "fl-grid", x1: LEFT, x2: W - RIGHT, y1: y(value), y2: y(value) }));
      box.appendChild(svg("text", { x: LEFT - 6, y: y(value) + 4, "text-anchor": "end" }, number(value, "")));
    }
    for (var j = 0; j <= 4; j++) {
      var t = t0 + ((t1 - t0) * j) / 4;
      var anchor = j === 0 ? "start" : j === 4 ? "end" : "middle";
      box.appendChild(svg("text", { x: x(t), y: H - 8, "text-anchor": anchor }, clock(t)));
    }
    data.envs.forEach(function (env) {
      var values = data.series[env] ? data.series[env][key] : [];
      var runs = [];
      var run = [];
      values.forEach(function (v, k) {
        if (v === null || v === undefined) {
          if (run.length) runs.push(run);
          run = [];
        } else {
          run.push(x(times[k]).toFixed(1) + "," + y(v).toFixed(1));
        }
      });
      if (run.length) runs.push(run);
      runs.forEach(function (points) {
        var attrs = { points: points.join(" "), fill: "none", stroke: colour(data, env), "stroke-width": 2 };
        attrs["data-env"] = env;
        box.appendChild(svg("polyline", attrs));
        if (points.length === 1) {
          var xy = points[0].split(",");
          box.appendChild(svg("circle", { cx: xy[0], cy: xy[1], r: 2.5, fill: colour(data, env) }));
        }
      });
    });
    figure.appendChild(box);
    return figure;
  }

  function colour(data, env) {
    return (data.colours && data.colours[env]) || "#7f7f7f";
  }

  function card(data, env) {
    var latest = (data.latest && data.latest[env]) || {};
    var box = el("div", { class: "fl-card", "data-env": env, style: "border-top-color:" + colour(data, env) });
    box.appendChild(el("h3", {}, env));
    var list = el("dl");
    CHARTS.forEach(function (c) {
      list.appendChild(el("dt", {}, c[1]));
      list.appendChild(el("dd", { "data-metric": c[0] }, number(latest[c[0]], c[2])));
    });
    box.appendChild(list);
    return box;
  }

  function render(data) {
    var root = ensurePanel();
    if (!root) return;
    root.style.display = tabIsOpen() ? "" : "none";
    var body = el("div", { class: "fl-body" });
    if (data.error) {
      body.appendChild(el("div", { class: "fl-banner fl-error", role: "alert" },
        "The test could not start: " + data.error));
    }
    if (data.report) {
      var banner = el("div", { class: "fl-banner fl-report" }, "The run has ended: ");
      banner.appendChild(el("a", { href: data.report.url, target: "_blank", rel: "noopener" },
        "open its report"));
      banner.appendChild(document.createTextNode(" (" + data.report.dir + ")"));
      body.appendChild(banner);
    }
    if (!data.t || !data.t.length) {
      body.appendChild(el("p", { class: "fl-note" },
        "No points yet: the charts start " + data.sample_s + " s into a test, and again after RESET."));
      root.replaceChild(body, root.querySelector(".fl-body"));
      return;
    }
    var cards = el("div", { class: "fl-cards" });
    data.envs.forEach(function (env) { cards.appendChild(card(data, env)); });
    body.appendChild(cards);
    var charts = el("div", { class: "fl-charts" });
    CHARTS.forEach(function (c) { charts.appendChild(chart(c[0], c[1] + c[3], data)); });
    body.appendChild(charts);
    body.appendChild(el("p", { class: "fl-note" },
      "Each point: the last " + data.window_s + " s (streams in flight: at that moment), every " +
      data.sample_s + " s, since the last RESET. The table below counts every stream since then."));
    root.replaceChild(body, root.querySelector(".fl-body"));
  }

  function poll() {
    if (!tabIsOpen()) {
      if (panel) panel.style.display = "none";
      return;
    }
    fetch(LIVE_URL, { cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { last = data; render(data); } })
      .catch(function () { /* Locust is stopping or restarting: try again at the next poll */ });
  }

  // Locust switches tabs without reloading: follow the URL, and draw at once when the tab opens.
  // React may also rebuild the tab's container: put the panel back in place.
  var openBefore = false;
  setInterval(function () {
    var open = tabIsOpen();
    if (open && !openBefore) poll();
    if (open && last && ensurePanel()) panel.style.display = "";
    if (!open && panel) panel.style.display = "none";
    openBefore = open;
  }, 300);
  setInterval(poll, POLL_MS);
  poll();
})();
