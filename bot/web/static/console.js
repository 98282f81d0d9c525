// The console's chat page: POST /api/ask and read its server-sent events as they arrive.
// Every text from an answer or a document is set with textContent: never parsed as HTML.
"use strict";
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const conversation = crypto.randomUUID().replaceAll("-", "");

async function post(path, body) {
  return fetch(path, {method: "POST", body: JSON.stringify(body),
                      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}});
}

function parseEvents(buffer, handle) {
  const blocks = buffer.split("\n\n");
  for (const block of blocks.slice(0, -1)) {
    let event = "message", data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      if (line.startsWith("data: ")) data += line.slice(6);
    }
    handle(event, data ? JSON.parse(data) : {});
  }
  return blocks[blocks.length - 1];
}

function show(turn, event, data) {
  const answer = turn.querySelector(".answer");
  if (event === "update" || event === "finish" || event === "notice") {
    answer.classList.remove("working");
    answer.textContent = data.text;
  }
  if (event === "finish") {
    const list = turn.querySelector(".sources");
    for (const source of data.sources) {
      const item = document.createElement("li");
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = `${source.title} (${source.source})`;
      const text = document.createElement("pre");
      text.textContent = source.text;
      details.append(summary, text);
      item.append(details);
      list.append(item);
    }
    if (data.ref) actions(turn, data.ref);
  }
}

function actions(turn, ref) {
  const box = turn.querySelector(".actions");
  const status = box.querySelector(".status");
  box.hidden = false;
  for (const button of box.querySelectorAll(".vote")) {
    button.addEventListener("click", async () => {
      const response = await post("/api/feedback", {ref, score: Number(button.dataset.score)});
      box.querySelectorAll(".vote").forEach(b => b.classList.remove("chosen"));
      if (response.ok) button.classList.add("chosen");
      status.textContent = response.ok ? "Thanks for the feedback." : (await response.json()).error;
    });
  }
  box.querySelector(".human").addEventListener("click", async () => {
    const response = await post("/api/handoff", {ref});
    status.textContent = response.ok ? (await response.json()).text : (await response.json()).error;
  });
}

document.getElementById("ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("question");
  const question = input.value.trim();
  if (!question) return;
  input.value = "";
  const turn = document.getElementById("turn").content.firstElementChild.cloneNode(true);
  turn.querySelector(".question").textContent = question;
  document.getElementById("log").append(turn);
  const response = await post("/api/ask", {question, conversation});
  if (!response.ok) {
    show(turn, "notice", {text: (await response.json()).error});
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer = parseEvents(buffer + decoder.decode(value, {stream: true}),
                         (name, data) => show(turn, name, data));
  }
});
