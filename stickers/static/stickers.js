/* The sticker editor, enhanced: per-file uploads with progress and results, live processing status,
   drag-and-drop reordering and delete confirmations. Without this script every form still works. */
(function () {
  "use strict";

  var editor = document.querySelector("[data-sticker-editor]");
  if (!editor) return;

  var statusUrl = editor.dataset.statusUrl;
  var orderUrl = editor.dataset.orderUrl;
  var csrf = editor.dataset.csrf || "";
  var POLL_MS = 1500;
  var BUSY = { queued: true, processing: true };
  var pollTimer = null;
  var failures = 0;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* ---------------------------------------------------------- live status */

  function isDirty(root) {
    var fields = root.querySelectorAll("input[type=text]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) return true;
    }
    var files = root.querySelectorAll("input[type=file]");
    for (var j = 0; j < files.length; j++) {
      if (files[j].files && files[j].files.length) return true;
    }
    if (root.querySelector("details[open]")) return true;
    var active = document.activeElement;
    return !!(active && root.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName));
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    ["sticker-processing", "submit-area"].forEach(function (id) {
      var fresh = doc.getElementById(id);
      var old = document.getElementById(id);
      if (fresh && old) old.replaceWith(document.adoptNode(fresh));
    });

    var grid = doc.getElementById("sticker-grid");
    var oldGrid = document.getElementById("sticker-grid");
    if (!grid || !oldGrid) return;
    if (grid.dataset.ids !== oldGrid.dataset.ids || !isDirty(oldGrid)) {
      oldGrid.replaceWith(document.adoptNode(grid));
      return;
    }
    // same stickers and the streamer is typing: refresh only the cards they are not editing
    grid.querySelectorAll(".sticker-card").forEach(function (card) {
      var old = document.getElementById(card.id);
      if (old && !isDirty(old)) old.replaceWith(document.adoptNode(card));
    });
  }

  function currentState() {
    var panel = document.getElementById("sticker-processing");
    return panel ? panel.dataset.state : "";
  }

  function schedule() {
    clearTimeout(pollTimer);
    pollTimer = null;
    if (BUSY[currentState()]) pollTimer = setTimeout(refresh, POLL_MS);
  }

  function refresh() {
    clearTimeout(pollTimer);
    return fetch(statusUrl, { headers: { Accept: "text/html" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        failures = 0;
        swap(html);
        schedule();
      })
      .catch(function () {
        failures += 1;
        if (failures < 10) pollTimer = setTimeout(refresh, POLL_MS * (failures + 1));
      });
  }

  /* ---------------------------------------------------------- uploads */

  var form = editor.querySelector("[data-upload-form]");
  var results = editor.querySelector("[data-upload-results]");
  var queue = [];
  var uploading = false;

  function text(name) {
    return form.dataset["text" + name] || "";
  }

  function resultItem(name) {
    var item = el("li", "upload-result is-uploading");
    var head = el("div", "upload-result-head");
    head.appendChild(el("span", "upload-result-name", name));
    var state = el("span", "upload-result-state", text("Uploading"));
    head.appendChild(state);
    item.appendChild(head);
    var bar = el("progress");
    bar.max = 1;
    bar.value = 0;
    item.appendChild(bar);
    results.appendChild(item);
    return { item: item, state: state, bar: bar, name: name };
  }

  function showResult(view, body, fallback) {
    view.item.classList.remove("is-uploading");
    if (view.bar.parentNode) view.bar.remove();
    var added = body && body.added ? body.added.length : 0;
    var refused = body && body.refused ? body.refused : [];
    var error = !body ? fallback : body.error;
    if (added) {
      view.item.classList.add("is-added");
      view.state.textContent = added > 1 ? text("AddedMany").replace("{count}", added) : text("Added");
    }
    if (refused.length || error || !added) {
      if (!added) {
        view.item.classList.add("is-refused");
        view.state.textContent = text("Refused");
      }
      var list = el("ul");
      refused.forEach(function (entry) {
        var line = el("li", "refused-reason");
        // a zip names its member ("pack.zip/03.png"); a single file is already named above
        if (entry.file !== view.name) line.appendChild(el("strong", "", entry.file + ": "));
        line.appendChild(document.createTextNode(entry.message));
        list.appendChild(line);
      });
      if (error && !refused.length) list.appendChild(el("li", "refused-reason", error));
      if (list.children.length) view.item.appendChild(list);
    }
  }

  function sendOne(file) {
    return new Promise(function (resolve) {
      var view = resultItem(file.name);
      var limit = parseInt(form.dataset.maxBytes || "0", 10);
      if (limit && file.size > limit) {
        showResult(view, null, text("TooLarge"));
        resolve(false);
        return;
      }
      var data = new FormData();
      data.append("csrf_token", csrf);
      data.append("files", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable) view.bar.value = event.loaded / event.total;
      };
      xhr.onload = function () {
        var body = null;
        if ((xhr.getResponseHeader("Content-Type") || "").indexOf("application/json") === 0) {
          try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        }
        showResult(view, body, editor.dataset.textFailed);
        resolve(!!(body && body.added && body.added.length));
      };
      xhr.onerror = function () {
        showResult(view, null, editor.dataset.textFailed);
        resolve(false);
      };
      xhr.send(data);
    });
  }

  function drain() {
    if (uploading) return;
    var file = queue.shift();
    if (!file) {
      refresh();
      return;
    }
    uploading = true;
    sendOne(file).then(function (added) {
      uploading = false;
      if (added) {
        var typeForm = document.querySelector("form#pack-type");
        if (typeForm) typeForm.remove(); // the type is fixed once the pack has stickers
      }
      drain();
    });
  }

  function enqueue(files) {
    for (var i = 0; i < files.length; i++) queue.push(files[i]);
    drain();
  }

  if (form && results && window.FormData && window.XMLHttpRequest) {
    var input = form.querySelector("input[type=file]");
    var zone = form.querySelector("[data-drop-zone]");
    form.classList.add("js-enhanced");

    input.addEventListener("change", function () {
      if (input.files && input.files.length) {
        enqueue(Array.prototype.slice.call(input.files));
        input.value = "";
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (input.files && input.files.length) {
        enqueue(Array.prototype.slice.call(input.files));
        input.value = "";
      }
    });
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        if (!event.dataTransfer || Array.prototype.indexOf.call(event.dataTransfer.types, "Files") < 0) return;
        event.preventDefault();
        zone.classList.add("is-dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("is-dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      event.preventDefault();
      enqueue(Array.prototype.slice.call(event.dataTransfer.files));
    });
  }

  /* ---------------------------------------------------------- delete confirmation */

  editor.addEventListener("submit", function (event) {
    var target = event.target;
    if (target.matches && target.matches("form[data-confirm]") && !window.confirm(target.dataset.confirm)) {
      event.preventDefault();
    }
  });

  /* ---------------------------------------------------------- drag reorder */

  var dragged = null;

  function clearMarks() {
    editor.querySelectorAll(".drop-before, .drop-after").forEach(function (card) {
      card.classList.remove("drop-before", "drop-after");
    });
  }

  function placeAfter(card, event) {
    var rect = card.getBoundingClientRect();
    var grid = card.parentNode;
    var columns = getComputedStyle(grid).gridTemplateColumns.split(" ").length;
    return columns > 1 ? event.clientX > rect.left + rect.width / 2 : event.clientY > rect.top + rect.height / 2;
  }

  editor.addEventListener("dragstart", function (event) {
    var handle = event.target.closest && event.target.closest("[data-drag-handle]");
    if (!handle) return;
    dragged = handle.closest(".sticker-card");
    dragged.classList.add("is-dragged");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.stickerId);
  });
  editor.addEventListener("dragover", function (event) {
    if (!dragged) return;
    var card = event.target.closest && event.target.closest(".sticker-card");
    if (!card || card === dragged) return;
    event.preventDefault();
    clearMarks();
    card.classList.add(placeAfter(card, event) ? "drop-after" : "drop-before");
  });
  editor.addEventListener("drop", function (event) {
    if (!dragged) return;
    var card = event.target.closest && event.target.closest(".sticker-card");
    event.preventDefault();
    clearMarks();
    if (!card || card === dragged) return;
    card.parentNode.insertBefore(dragged, placeAfter(card, event) ? card.nextSibling : card);
    var ids = Array.prototype.map.call(card.parentNode.querySelectorAll(".sticker-card"), function (item) {
      return parseInt(item.dataset.stickerId, 10);
    });
    fetch(orderUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ order: ids }),
    })
      .then(function (response) {
        if (!response.ok) window.alert(editor.dataset.textReorderFailed);
      })
      .catch(function () { window.alert(editor.dataset.textReorderFailed); })
      .then(refresh);
  });
  editor.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragged");
    dragged = null;
    clearMarks();
  });

  schedule();
})();
