/* The layout on a narrow screen (static/css/crm.css, below 800 px): the header's menu and the
   customer list's filters fold away behind a button. Loaded in <head>, so the "js" class is on
   <html> before the first paint and nothing jumps; without JavaScript nothing is folded and the
   buttons are never shown.

   A button with data-disclosure and aria-controls="ID" shows and hides the element #ID (the
   "open" class, which the server sets when the element must start open, e.g. filters in use),
   keeping aria-expanded in step; Escape inside the element folds it and returns focus to the
   button. On a wide screen the buttons are hidden and the elements always shown.

   A table wider than the screen scrolls inside its box; such a box is made focusable
   (tabindex="0") while it overflows, so it can be scrolled with the arrow keys too (WCAG 2.1.1). */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function setOpen(button, target, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    target.classList.toggle("open", open);
  }

  var SCROLLERS = ".table-wrap, .table-scroll, .cmp-table, .heatmap, .model-card";

  function keyboardScrolling() {
    document.querySelectorAll(SCROLLERS).forEach(function (box) {
      var overflows = box.scrollWidth > box.clientWidth + 1;
      if (overflows && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.dataset.scrollFocus = "";
      } else if (!overflows && box.dataset.scrollFocus !== undefined) {
        box.removeAttribute("tabindex");
        delete box.dataset.scrollFocus;
      }
    });
  }

  var resizing;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(keyboardScrolling, 150);
  });

  document.addEventListener("DOMContentLoaded", function () {
    keyboardScrolling();
    document.querySelectorAll("[data-disclosure]").forEach(function (button) {
      var target = document.getElementById(button.getAttribute("aria-controls"));
      if (!target) { return; }
      setOpen(button, target, target.classList.contains("open"));
      button.addEventListener("click", function () {
        setOpen(button, target, button.getAttribute("aria-expanded") !== "true");
        keyboardScrolling();  // what was folded has a size now
      });
      target.addEventListener("keydown", function (event) {
        var folds = button.offsetParent !== null;  // the button is shown: a narrow screen
        if (event.key === "Escape" && folds && button.getAttribute("aria-expanded") === "true") {
          setOpen(button, target, false);
          button.focus();
        }
      });
    });
  });
})();
