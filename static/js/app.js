// Small progressive enhancements; every page works without them.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    const label = button.textContent;
    button.textContent = button.dataset.copied;  // in the page's language
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});

document.addEventListener("keydown", (event) => {
  const search = document.getElementById("q");
  if (!search) return;
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (event.key === "/" && !typing) {
    event.preventDefault();
    search.focus();
    search.select();
    return;
  }
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const links = [...document.querySelectorAll("#results a.hit-title")];
  if (!links.length) return;
  const index = links.indexOf(document.activeElement);
  if (document.activeElement === search && event.key === "ArrowDown") {
    event.preventDefault();
    links[0].focus();
  } else if (index >= 0) {
    event.preventDefault();
    const next = index + (event.key === "ArrowDown" ? 1 : -1);
    if (next < 0) search.focus(); else links[Math.min(next, links.length - 1)].focus();
  }
});

// The composer: Enter sends, Shift+Enter breaks the line.
document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (box.name !== "question" || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  if (box.value.trim()) box.form.requestSubmit();
});

// Keep the newest text in view while an answer streams.
document.addEventListener("htmx:sseMessage", () => {
  const thread = document.getElementById("thread");
  if (thread) thread.lastElementChild?.scrollIntoView({ block: "end" });
});

// A form that asks first (deleting a conversation).
document.addEventListener("submit", (event) => {
  const question = event.target.dataset?.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// A question taken: empty the composer and any earlier refusal.
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (form.id !== "composer" || event.detail.xhr.status >= 300) return;
  form.question.value = "";
  document.getElementById("ask-error").textContent = "";
});
