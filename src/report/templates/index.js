/* gridsleuth report: sort, filter and page the suspects table. No server, no network:
   the rows are the JSON block above; cells are built with textContent (never innerHTML),
   so no metadata is ever parsed as markup. 100 rows per page keep 5,000+ suspects fast. */
(function () {
  "use strict";
  var PAGE = 100;
  var t0 = window.performance ? performance.now() : 0;
  var root = document.documentElement;
  root.classList.add("js");
  var rows = JSON.parse(document.getElementById("suspect-data").textContent);
  var table = document.getElementById("suspects");
  var tbody = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filter = document.getElementById("filter");
  var feeder = document.getElementById("feeder-filter");
  var minScore = document.getElementById("min-score");
  var count = document.getElementById("count");
  var prev = document.getElementById("prev-page");
  var next = document.getElementById("next-page");
  var info = document.getElementById("page-info");
  var state = { key: "rank", num: true, dir: 1, page: 0 };
  var haystack = rows.map(function (r) {
    return [r.meter_id, r.address, r.feeder, r.tariff, r.devices, r.onset, r.reason].join("\u0001").toLowerCase();
  });

  function td(tr, text, cls) {
    var cell = document.createElement("td");
    cell.textContent = text;
    if (cls) { cell.className = cls; }
    tr.appendChild(cell);
    return cell;
  }

  function rowElement(r) {
    var tr = document.createElement("tr");
    td(tr, String(r.rank), "num");
    var id = td(tr, "", "id");
    if (r.href) {
      var a = document.createElement("a");
      a.href = r.href;
      a.textContent = r.meter_id;
      id.appendChild(a);
    } else {
      id.textContent = r.meter_id;
    }
    td(tr, r.address, "addr"); td(tr, r.feeder); td(tr, r.tariff);
    var sc = td(tr, "", "num");
    var pill = document.createElement("span");
    pill.className = "score " + r.score_class;
    pill.textContent = r.score_text;
    sc.appendChild(pill);
    td(tr, r.kw_text, "num kw"); td(tr, r.devices, "dev"); td(tr, r.onset, "nowrap");
    td(tr, r.excess_text, "num"); td(tr, r.reason, "reason");
    return tr;
  }

  function compare(a, b) {
    var x = a[state.key], y = b[state.key];
    var c = state.num ? x - y : String(x).localeCompare(String(y));
    return c !== 0 ? c * state.dir : a.rank - b.rank;
  }

  function render() {
    var q = filter.value.trim().toLowerCase();
    var f = feeder.value;
    var m = parseFloat(minScore.value) || 0;
    var view = [];
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if (f && r.feeder !== f) { continue; }
      if (r.score < m) { continue; }
      if (q && haystack[i].indexOf(q) < 0) { continue; }
      view.push(r);
    }
    view.sort(compare);
    var pages = Math.max(1, Math.ceil(view.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * PAGE;
    var frag = document.createDocumentFragment();
    view.slice(start, start + PAGE).forEach(function (r) { frag.appendChild(rowElement(r)); });
    tbody.replaceChildren(frag);
    count.textContent = view.length === rows.length
      ? rows.length + " suspects"
      : view.length + " of " + rows.length + " suspects match";
    info.textContent = view.length === 0 ? "no rows"
      : "rows " + (start + 1) + "\u2013" + Math.min(start + PAGE, view.length) + " of " + view.length
        + " (page " + (state.page + 1) + " of " + pages + ")";
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    heads.forEach(function (th) {
      if (th.dataset.key === state.key) {
        th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    });
    table.dataset.rendered = String(tbody.rows.length);
  }

  heads.forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var key = th.dataset.key;
      if (state.key === key) {
        state.dir = -state.dir;
      } else {
        state.key = key;
        state.num = th.dataset.num === "1";
        // Numbers that mean "more suspicious" read best from the top.
        state.dir = state.num && key !== "rank" ? -1 : 1;
      }
      state.page = 0;
      render();
    });
  });
  var timer = null;
  filter.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { state.page = 0; render(); }, 120);
  });
  feeder.addEventListener("change", function () { state.page = 0; render(); });
  minScore.addEventListener("input", function () { state.page = 0; render(); });
  prev.addEventListener("click", function () { state.page -= 1; render(); });
  next.addEventListener("click", function () { state.page += 1; render(); });
  // A view can be shared as a link: index.html#q=text&feeder=F1&min=0.8&sort=kw&dir=desc&page=2
  var hash = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
    var i = kv.indexOf("=");
    if (i > 0) {
      try { hash[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1)); } catch (e) { /* ignore */ }
    }
  });
  if (hash.q) { filter.value = hash.q; }
  if (hash.feeder) { feeder.value = hash.feeder; }
  if (hash.min) { minScore.value = hash.min; }
  heads.forEach(function (th) {
    if (hash.sort && th.dataset.key === hash.sort) {
      state.key = hash.sort;
      state.num = th.dataset.num === "1";
      state.dir = hash.dir === "desc" ? -1 : 1;
    }
  });
  if (hash.page) { state.page = Math.max(0, (parseInt(hash.page, 10) || 1) - 1); }
  render();
  root.dataset.renderMs = String(Math.round((window.performance ? performance.now() : 0) - t0));
  root.dataset.ready = "1";
}());
