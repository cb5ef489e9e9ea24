/* Product picker: turns a text input of comma-separated product ids (marked
 * data-product-picker) into a search by name with chips, following the WAI-ARIA combobox
 * pattern (https://www.w3.org/WAI/ARIA/apg/patterns/combobox/): type to search the products
 * API, Arrow keys to move, Enter to choose, Escape to close; each chosen product is a button
 * that removes it. The original input stays in the form (hidden) and keeps the ids, so the
 * server and the API see exactly what they saw before; without JavaScript it is typed by hand.
 *
 * Configuration comes from a JSON script element #product-picker-config:
 *   {"url": "/api/products/", "names": {"12": "Green tea"}, "remove": "Remove %s",
 *    "empty": "No product found", "search": "Search products by name or SKU"}
 */
(function () {
  "use strict";
  const configElement = document.getElementById("product-picker-config");
  if (!configElement) return;
  const config = JSON.parse(configElement.textContent);
  const names = Object.assign({}, config.names || {});
  const DEBOUNCE_MS = 250;
  const RESULTS = 10;

  function ids(input) {
    return input.value.split(",").map(s => s.trim()).filter(s => /^\d+$/.test(s));
  }

  function enhance(input, index) {
    const form = input.form;
    const wrapper = document.createElement("div");
    wrapper.className = "product-picker";
    const chips = document.createElement("ul");
    chips.className = "product-chips";
    chips.setAttribute("aria-live", "polite");
    const search = document.createElement("input");
    const listId = input.id + "-options";
    search.type = "text";
    search.id = input.id + "-search";
    search.className = "product-search";
    search.setAttribute("role", "combobox");
    search.setAttribute("aria-autocomplete", "list");
    search.setAttribute("aria-expanded", "false");
    search.setAttribute("aria-controls", listId);
    search.setAttribute("autocomplete", "off");
    search.placeholder = config.search;
    const list = document.createElement("ul");
    list.id = listId;
    list.className = "product-options";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    // "No product found" is said here, not inside the listbox, which may hold only options.
    const status = document.createElement("p");
    status.className = "helptext product-status";
    status.setAttribute("role", "status");
    wrapper.append(chips, search, list, status);
    input.after(wrapper);
    input.hidden = true;
    // The field's label now names the search box a person types in.
    const label = form.querySelector(`label[for="${input.id}"]`);
    if (label) label.htmlFor = search.id;

    let active = -1;
    let timer = null;
    let options = [];

    function changed() {
      input.dispatchEvent(new Event("change", {bubbles: true}));
    }

    function drawChips() {
      chips.replaceChildren();
      for (const id of ids(input)) {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "product-chip";
        button.dataset.productId = id;
        const name = names[id] || "#" + id;
        button.textContent = name + " ×";
        button.setAttribute("aria-label", config.remove.replace("%s", name));
        button.addEventListener("click", () => {
          input.value = ids(input).filter(other => other !== id).join(", ");
          drawChips();
          changed();
          search.focus();
        });
        item.append(button);
        chips.append(item);
      }
    }

    function close() {
      list.hidden = true;
      search.setAttribute("aria-expanded", "false");
      search.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(position) {
      const items = list.querySelectorAll("[role=option]");
      if (!items.length) return;
      active = (position + items.length) % items.length;
      items.forEach((item, i) => item.setAttribute("aria-selected", String(i === active)));
      search.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({block: "nearest"});
    }

    function choose(product) {
      names[String(product.id)] = product.name;
      const chosen = ids(input);
      if (!chosen.includes(String(product.id))) chosen.push(String(product.id));
      input.value = chosen.join(", ");
      search.value = "";
      close();
      drawChips();
      changed();
    }

    function draw(products) {
      options = products;
      list.replaceChildren();
      status.textContent = products.length ? "" : config.empty;
      if (!products.length) { close(); return; }
      products.forEach((product, i) => {
        const item = document.createElement("li");
        item.id = `${listId}-${i}`;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        item.dataset.productId = product.id;
        item.textContent = product.sku ? `${product.name} (${product.sku})` : product.name;
        // mousedown, not click: it comes before the search box loses focus.
        item.addEventListener("mousedown", event => { event.preventDefault(); choose(product); });
        list.append(item);
      });
      list.hidden = false;
      search.setAttribute("aria-expanded", "true");
      active = -1;
    }

    function lookUp() {
      const term = search.value.trim();
      if (!term) { close(); status.textContent = ""; return; }
      const params = new URLSearchParams({search: term, page_size: String(RESULTS)});
      fetch(`${config.url}?${params}`, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(response => response.ok ? response.json() : {results: []})
        .then(body => { if (search.value.trim() === term) draw(body.results || []); })
        .catch(() => draw([]));
    }

    search.addEventListener("input", event => {
      event.stopPropagation();  // the form's live preview listens for real changes only
      clearTimeout(timer);
      timer = setTimeout(lookUp, DEBOUNCE_MS);
    });
    search.addEventListener("keydown", event => {
      if (event.key === "ArrowDown") { event.preventDefault(); if (list.hidden) lookUp(); else highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter") {
        // Enter picks the highlighted product instead of submitting the form.
        if (!list.hidden && active >= 0 && options[active]) { event.preventDefault(); choose(options[active]); }
        else if (!list.hidden) event.preventDefault();
      } else if (event.key === "Escape") { close(); }
    });
    search.addEventListener("change", event => event.stopPropagation());
    search.addEventListener("blur", () => setTimeout(close, 150));
    drawChips();
  }

  document.querySelectorAll("input[data-product-picker]").forEach(enhance);
})();
