// The Hand-offs page: Claim, Resolve and Resolve with an answer POST to the API, then reload.
"use strict";
const handoffCsrf = document.querySelector('meta[name="csrf-token"]').content;
const handoffLine = document.getElementById("job");

async function handoffAct(id, action, body) {
  const response = await fetch(`/api/handoffs/${id}/${action}`, {method: "POST",
    body: JSON.stringify(body || {}),
    headers: {"Content-Type": "application/json", "X-CSRF-Token": handoffCsrf}});
  const data = await response.json();
  if (!response.ok) { handoffLine.textContent = data.error; return; }
  location.reload();
}

for (const button of document.querySelectorAll("button.claim")) {
  button.addEventListener("click", () => handoffAct(button.dataset.id, "claim"));
}
for (const button of document.querySelectorAll("button.resolve")) {
  button.addEventListener("click", () => handoffAct(button.dataset.id, "resolve"));
}
for (const form of document.querySelectorAll("form.resolve-with-answer")) {
  form.addEventListener("submit", event => {
    event.preventDefault();
    handoffAct(form.dataset.id, "resolve", {answer: form.elements.answer.value});
  });
}
