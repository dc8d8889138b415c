/// The console's stylesheet and its one script, served by the node (no build step, no CDN). The
/// script only drives the live views; every page works without it.
enum ConsoleAssets {
    /// Colours meet WCAG 2.1 AA contrast: text #1a1a1a on #ffffff (17:1), links #0b4f8a (8:1),
    /// header text #ffffff on #12324f (13:1), the red #a4161a (7:1) and green #1b5e20 (7:1) on white.
    static let css = """
    *{box-sizing:border-box}
    body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1a1a1a;background:#ffffff;line-height:1.45}
    a{color:#0b4f8a}
    a:focus,button:focus,input:focus,select:focus,summary:focus,[tabindex]:focus{outline:3px solid #b35c00;outline-offset:2px}
    .skip{position:absolute;left:-999px;top:0;background:#ffffff;color:#0b4f8a;padding:.5em}
    .skip:focus{left:.5em}
    header{background:#12324f;color:#ffffff;padding:.6em 1em}
    header a{color:#ffffff}
    header .brand{margin:0;font-size:1.25em;font-weight:700}
    header .brand span{font-weight:400;font-size:.8em}
    header nav ul{list-style:none;margin:.4em 0 0;padding:0;display:flex;flex-wrap:wrap;gap:.2em 1em}
    header nav a[aria-current=page]{text-decoration:underline;font-weight:700}
    .who{display:flex;gap:1em;align-items:center;flex-wrap:wrap;font-size:.9em}
    .who code{color:#ffffff}
    .who form{margin:0}
    main{padding:1em;max-width:110em}
    main:focus{outline:none}
    h1{margin-top:.2em}
    footer{padding:1em;font-size:.85em;color:#3d3d3d;border-top:1px solid #c4c4c4}
    .table-scroll{overflow-x:auto}
    table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
    caption{text-align:left;font-weight:700;padding:.3em 0}
    th,td{border:1px solid #c4c4c4;padding:.3em .5em;text-align:left;vertical-align:top}
    th{background:#eef2f6}
    dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}
    dl.facts dt{font-weight:700}
    dl.facts dd{margin:0;word-break:break-all}
    .ok{color:#1b5e20}
    .bad,.error{color:#a4161a}
    .pending{color:#5c4300}
    .empty{color:#3d3d3d;font-style:italic}
    form.inline{margin:0}
    .notice{border-left:4px solid #0b4f8a;padding:.4em .8em;background:#eef4fa}
    .code{font-size:2em;font-family:ui-monospace,"DejaVu Sans Mono",monospace;letter-spacing:.1em;font-weight:700}
    form.search{display:flex;flex-wrap:wrap;gap:.6em 1em;align-items:flex-end;margin-bottom:1em}
    .field{display:flex;flex-direction:column}
    .field small{color:#3d3d3d}
    input,select,button{font:inherit;padding:.25em .4em;border:1px solid #5a5a5a;border-radius:3px;background:#ffffff;color:#1a1a1a}
    button{background:#0b4f8a;color:#ffffff;border-color:#0b4f8a;cursor:pointer}
    .who button{background:#ffffff;color:#12324f}
    pre{background:#f3f3f3;padding:.6em;overflow-x:auto}
    section.consent{border-top:1px solid #c4c4c4;margin-top:1em}
    figure.chart{margin:.6em 0}
    figure.chart svg{max-width:100%;height:auto}
    ul.cards li{margin:.4em 0}
    """

    /// Live views: the page names its view in `<meta name="meridian-live">`; the script opens the
    /// console's WebSocket (same origin, the session cookie goes with it) and updates the page with
    /// `textContent` only (never markup from the wire).
    static let script = """
    (function () {
      "use strict";
      var meta = document.querySelector('meta[name="meridian-live"]');
      if (!meta || !window.WebSocket) { return; }
      var view = meta.getAttribute("content");
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + "/console/live?view=" + encodeURIComponent(view));
      function set(name, value) {
        var el = document.querySelector('[data-live="' + name + '"]');
        if (el && value !== undefined && value !== null) { el.textContent = String(value); }
      }
      socket.addEventListener("open", function () { set("note", "Live: connected; this page updates as blocks commit."); });
      socket.addEventListener("close", function () { set("note", "Live updates stopped; reload the page."); });
      socket.addEventListener("message", function (message) {
        var data;
        try { data = JSON.parse(message.data); } catch (e) { return; }
        if (view === "network") {
          set("height", data.height);
          set("time", data.time);
          if (data.round !== undefined) { set("round", data.round); }
        } else if (view === "alerts" && data.type === "alert" && Array.isArray(data.cells)) {
          var body = document.getElementById("alerts");
          if (!body) { return; }
          var row = document.createElement("tr");
          data.cells.forEach(function (cell) {
            var td = document.createElement("td");
            td.textContent = String(cell);
            row.appendChild(td);
          });
          // The Acknowledge form, as the page renders it, with the session's form token.
          var token = document.querySelector("form[action='/console/sign-out'] input[name=form]");
          var cell = document.createElement("td");
          if (token && typeof data.patient === "string" && typeof data.alert === "string") {
            var f = document.createElement("form");
            f.method = "post"; f.action = "/console/alerts/acknowledge"; f.className = "inline";
            [["form", token.value], ["patient", data.patient], ["alert", data.alert]].forEach(function (kv) {
              var input = document.createElement("input");
              input.type = "hidden"; input.name = kv[0]; input.value = kv[1];
              f.appendChild(input);
            });
            var button = document.createElement("button");
            button.type = "submit"; button.textContent = "Acknowledge";
            f.appendChild(button);
            cell.appendChild(f);
          }
          row.appendChild(cell);
          body.insertBefore(row, body.firstChild);
          var none = document.getElementById("alerts-empty");
          if (none) { none.remove(); }
        }
      });
    })();
    """
}
