/*
 * Pulse — small progressive enhancements, no dependencies.
 *
 * Loaded synchronously from <head> (it is tiny) so a saved theme is applied
 * before first paint. Everything else is event delegation on `document`, so it
 * needs no DOMContentLoaded and keeps working on content swapped in by HTMX.
 * No inline handlers anywhere (CSP): behaviour hangs off data- attributes.
 *
 *   [data-theme-toggle]     button: switch light/dark, remembered in localStorage
 *   [data-nav-toggle]       button: open/close the sidebar nav on small screens
 *   [data-dismiss]          button inside .flash (or [data-dismissible]): remove it
 *   [data-confirm="text"]   on a <form> (checked on submit) or on a button/link
 *                           (checked on click): window.confirm() first
 *   [data-autosubmit]       on a <select>/<input>: submit its form on change
 *   details.menu            closes on Escape, outside click, or when another opens
 */
(function () {
  "use strict";

  var root = document.documentElement;
  var THEME_KEY = "pulse-theme";

  root.classList.remove("no-js");
  root.classList.add("js");

  /* ------------------------------------------------------------- theme -- */
  function readTheme() {
    try {
      return window.localStorage.getItem(THEME_KEY);
    } catch (err) {
      return null; // storage disabled (privacy mode): fall back to the OS setting
    }
  }

  function writeTheme(value) {
    try {
      window.localStorage.setItem(THEME_KEY, value);
    } catch (err) {
      /* not persisted; the attribute still applies for this page */
    }
  }

  var saved = readTheme();
  if (saved === "light" || saved === "dark") {
    root.setAttribute("data-theme", saved);
  }

  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function effectiveTheme() {
    var forced = root.getAttribute("data-theme");
    if (forced === "light" || forced === "dark") {
      return forced;
    }
    return darkQuery && darkQuery.matches ? "dark" : "light";
  }

  function syncThemeToggles() {
    var dark = effectiveTheme() === "dark";
    var buttons = document.querySelectorAll("[data-theme-toggle]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", dark ? "true" : "false");
      buttons[i].setAttribute("title", dark ? "Switch to light theme" : "Switch to dark theme");
    }
  }

  function toggleTheme() {
    var next = effectiveTheme() === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    writeTheme(next);
    syncThemeToggles();
  }

  if (darkQuery) {
    var onSchemeChange = function () {
      syncThemeToggles();
    };
    if (darkQuery.addEventListener) {
      darkQuery.addEventListener("change", onSchemeChange);
    } else if (darkQuery.addListener) {
      darkQuery.addListener(onSchemeChange);
    }
  }

  /* ----------------------------------------------------------- helpers -- */
  function closest(node, selector) {
    if (!node || node.nodeType !== 1) {
      node = node && node.parentElement;
    }
    return node ? node.closest(selector) : null;
  }

  function setNavOpen(button, open) {
    var sidebar = button.closest(".sidebar") || document.getElementById("sidebar");
    if (!sidebar) {
      return;
    }
    sidebar.classList.toggle("is-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function closeMenus(except) {
    var open = document.querySelectorAll("details.menu[open]");
    for (var i = 0; i < open.length; i++) {
      if (open[i] !== except) {
        open[i].removeAttribute("open");
      }
    }
  }

  function dismiss(item) {
    item.classList.add("is-leaving");
    var remove = function () {
      if (item.parentNode) {
        item.parentNode.removeChild(item);
      }
    };
    var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    if (reduced) {
      remove();
    } else {
      window.setTimeout(remove, 180);
    }
  }

  /* ------------------------------------------------------------ clicks -- */
  document.addEventListener("click", function (event) {
    var target = event.target;

    var themeButton = closest(target, "[data-theme-toggle]");
    if (themeButton) {
      toggleTheme();
      return;
    }

    var navButton = closest(target, "[data-nav-toggle]");
    if (navButton) {
      setNavOpen(navButton, navButton.getAttribute("aria-expanded") !== "true");
      return;
    }

    var dismissButton = closest(target, "[data-dismiss]");
    if (dismissButton) {
      var item = dismissButton.closest("[data-dismissible], .flash");
      if (item) {
        dismiss(item);
      }
      return;
    }

    // Links marked aria-disabled (sections not built yet) go nowhere.
    var disabledLink = closest(target, "a[aria-disabled='true']");
    if (disabledLink) {
      event.preventDefault();
      return;
    }

    // data-confirm on a button or link; forms are handled on submit below.
    var confirmable = closest(target, "[data-confirm]");
    if (confirmable && confirmable.tagName !== "FORM") {
      if (!window.confirm(confirmable.getAttribute("data-confirm") || "Are you sure?")) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    }

    // Outside click closes open dropdown menus.
    var menu = closest(target, "details.menu");
    closeMenus(menu);
  });

  /* ------------------------------------------------------------ submit -- */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.hasAttribute && form.hasAttribute("data-confirm")) {
      if (!window.confirm(form.getAttribute("data-confirm") || "Are you sure?")) {
        event.preventDefault();
      }
    }
  });

  /* ------------------------------------------------------------ change -- */
  document.addEventListener("change", function (event) {
    var control = event.target;
    if (control && control.hasAttribute && control.hasAttribute("data-autosubmit") && control.form) {
      if (typeof control.form.requestSubmit === "function") {
        control.form.requestSubmit();
      } else {
        control.form.submit();
      }
    }
  });

  /* ---------------------------------------------------------- keyboard -- */
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    var openMenu = document.querySelector("details.menu[open]");
    if (openMenu) {
      openMenu.removeAttribute("open");
      var summary = openMenu.querySelector("summary");
      if (summary) {
        summary.focus();
      }
      return;
    }
    var navButton = document.querySelector("[data-nav-toggle][aria-expanded='true']");
    if (navButton) {
      setNavOpen(navButton, false);
      navButton.focus();
    }
  });

  // Opening one menu closes the others (toggle does not bubble: capture it).
  document.addEventListener(
    "toggle",
    function (event) {
      var details = event.target;
      if (details && details.matches && details.matches("details.menu") && details.open) {
        closeMenus(details);
      }
    },
    true
  );

  /* -------------------------------------------------------------- ready -- */
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", syncThemeToggles);
  } else {
    syncThemeToggles();
  }
})();
