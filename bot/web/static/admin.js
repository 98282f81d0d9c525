// The Knowledge and Model pages: buttons POST to the API; a running job is polled until done.
"use strict";
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const jobLine = document.getElementById("job");

async function send(path, body) {
  const response = await fetch(path, {method: "POST", body: JSON.stringify(body || {}),
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrfToken}});
  const data = await response.json();
  if (!response.ok) jobLine.textContent = data.error;
  return response.ok ? data : null;
}

function describe(job) {
  const count = job.total ? ` ${job.done}/${job.total}` : "";
  return `${job.kind}: ${job.status} — ${job.stage}${count}${job.message ? " — " + job.message : ""}`;
}

async function follow() {
  for (;;) {
    const {job} = await (await fetch("/api/jobs/current")).json();
    if (!job) return;
    jobLine.textContent = describe(job);
    if (job.status !== "running") { setTimeout(() => location.reload(), 1500); return; }
    await new Promise(resolve => setTimeout(resolve, 400));
  }
}

async function act(path, body, reload) {
  const data = await send(path, body);
  if (!data) return;
  if (data.status === "running") return follow();
  jobLine.textContent = data.text;
  if (reload) setTimeout(() => location.reload(), 1500);
}

document.getElementById("refresh")?.addEventListener("click", () => act("/api/knowledge/refresh"));
document.getElementById("train")?.addEventListener("click", () => act("/api/adapters/train"));
document.getElementById("rollback")?.addEventListener("click", () => act("/api/adapters/rollback", {}, true));
for (const button of document.querySelectorAll(".release")) {
  button.addEventListener("click", () => act("/api/knowledge/release", {ids: [button.dataset.id]}, true));
}
for (const button of document.querySelectorAll(".promote")) {
  button.addEventListener("click", () => act("/api/adapters/promote", {version: button.dataset.version}, true));
}
