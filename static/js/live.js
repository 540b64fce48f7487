/*
 * Pulse — live updates for the monitoring screens (dashboard, monitors, incidents),
 * plus two small behaviours those screens use. Loaded with `defer` after htmx and its
 * ws extension; no inline handlers (CSP).
 *
 * The socket is opened by the ws extension on [data-live-socket] (hx-ext="ws"
 * ws-connect="/ws/org/"), which also reconnects after an abnormal close. Each frame
 * from pulse.consumers is HTML:
 *   - elements with an id and hx-swap-oob ("innerHTML", "true"/"outerHTML", "delete"):
 *     swapped into the page by id; ids this page does not have are skipped (the same
 *     frame serves every page), so nothing is logged for them;
 *   - <div data-pulse-event="NAME" [data-monitors="id id"]>: a signal. It fires
 *     `pulse:NAME` on <body> (lists re-fetch with hx-trigger="pulse:NAME from:body"),
 *     and for monitor-changed also on each [data-live-monitor="<id>"] element.
 * After a reconnect every signal fires once, so lists catch up on what was missed
 * (the consumer also sends a full status snapshot on every connect).
 *
 *   [data-copy="input-id"]   button: copy that input's value to the clipboard
 *   [data-select-all="name"] checkbox: tick/untick every checkbox named `name` in its form
 */
(function () {
  "use strict";

  var SIGNALS = ["incidents-changed", "monitors-changed", "monitor-changed"];
  var opened = false;

  function fire(target, name, detail) {
    target.dispatchEvent(new CustomEvent("pulse:" + name, { bubbles: false, detail: detail || {} }));
  }

  function fireMonitorChanged(ids) {
    var nodes = document.querySelectorAll("[data-live-monitor]");
    for (var i = 0; i < nodes.length; i++) {
      var id = nodes[i].getAttribute("data-live-monitor");
      if (ids === null || ids.indexOf(id) >= 0) {
        fire(nodes[i], "monitor-changed", { id: id });
      }
    }
  }

  function signal(name, ids) {
    fire(document.body, name, { monitors: ids });
    if (name === "monitor-changed") {
      fireMonitorChanged(ids);
    }
  }

  function flash(node) {
    node.classList.remove("is-updated");
    // Reflow so the animation restarts when the same node changes twice in a row.
    void node.offsetWidth;
    node.classList.add("is-updated");
  }

  function swapOne(incoming) {
    var id = incoming.id;
    var target = id ? document.getElementById(id) : null;
    if (!target) {
      return;
    }
    var style = incoming.getAttribute("hx-swap-oob") || "true";
    incoming.removeAttribute("hx-swap-oob");
    if (style === "delete") {
      target.parentNode.removeChild(target);
      return;
    }
    if (style === "innerHTML") {
      if (target.innerHTML === incoming.innerHTML) {
        return; // unchanged (e.g. the snapshot on connect): keep the DOM still
      }
      target.innerHTML = incoming.innerHTML;
      if (window.htmx) {
        window.htmx.process(target);
      }
      flash(target);
      return;
    }
    if (target.outerHTML === incoming.outerHTML) {
      return;
    }
    target.parentNode.replaceChild(incoming, target);
    if (window.htmx) {
      window.htmx.process(incoming);
    }
  }

  function apply(message) {
    var template = document.createElement("template");
    template.innerHTML = message;
    var children = Array.prototype.slice.call(template.content.children);
    for (var i = 0; i < children.length; i++) {
      var child = children[i];
      var name = child.getAttribute("data-pulse-event");
      if (name) {
        var ids = child.getAttribute("data-monitors");
        signal(name, ids ? ids.split(" ") : null);
      } else {
        swapOne(child);
      }
    }
  }

  function setState(socketElt, live, text) {
    socketElt.classList.toggle("live--off", !live);
    var label = socketElt.querySelector("[data-live-label]");
    if (label) {
      label.textContent = text;
    }
  }

  // Take over message handling from the ws extension: it would log an error for
  // every fragment whose id is not on this page.
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    event.preventDefault();
    apply(event.detail.message);
  });

  document.addEventListener("htmx:wsOpen", function (event) {
    setState(event.target, true, "Live");
    if (opened) {
      for (var i = 0; i < SIGNALS.length; i++) {
        signal(SIGNALS[i], null);
      }
    }
    opened = true;
  });

  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail && event.detail.event ? event.detail.event.code : 0;
    if (code === 4401 || code === 4403) {
      setState(event.target, false, "Live updates off — reload the page");
      return;
    }
    setState(event.target, false, "Reconnecting…");
    // The extension retries abnormal closes itself; a clean close (server restart,
    // code 1000/1001) would otherwise leave the page stale.
    if ([1006, 1011, 1012, 1013].indexOf(code) < 0 && event.detail.socketWrapper) {
      var wrapper = event.detail.socketWrapper;
      window.setTimeout(function () {
        if (document.body.contains(event.target)) {
          wrapper.reconnect();
        }
      }, 1000 + Math.random() * 2000);
    }
  });

  /* ---------------------------------------------------------- behaviours -- */
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) {
      return;
    }
    var input = document.getElementById(button.getAttribute("data-copy"));
    var label = button.querySelector("[data-copy-label]");
    if (!input) {
      return;
    }
    function done(text) {
      if (label) {
        label.textContent = text;
        window.setTimeout(function () {
          label.textContent = "Copy";
        }, 2000);
      }
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(
        function () {
          done("Copied");
        },
        function () {
          input.select();
          done("Press Ctrl+C");
        }
      );
    } else {
      input.select();
      done("Press Ctrl+C");
    }
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box || !box.hasAttribute || !box.form) {
      return;
    }
    var name = box.getAttribute("data-select-all");
    var boxes;
    var i;
    if (name) {
      boxes = box.form.querySelectorAll("input[type='checkbox'][name='" + name + "']");
      for (i = 0; i < boxes.length; i++) {
        boxes[i].checked = box.checked;
      }
    }
    var all = box.form.querySelector("[data-select-all]");
    if (!all) {
      return;
    }
    boxes = box.form.querySelectorAll("input[type='checkbox'][name='" + all.getAttribute("data-select-all") + "']");
    var ticked = 0;
    for (i = 0; i < boxes.length; i++) {
      if (boxes[i].checked) {
        ticked++;
        boxes[i].closest("tr").classList.add("is-selected");
      } else {
        boxes[i].closest("tr").classList.remove("is-selected");
      }
    }
    all.checked = ticked > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
    var count = box.form.querySelector("[data-selected-count]");
    if (count) {
      count.textContent = ticked ? ticked + " selected" : "Tick monitors to pause or resume them together.";
    }
  });
})();
