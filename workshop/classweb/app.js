// The projector's view of the class: redrawn from /api/class and
// /api/lessons whenever the server says the class changed (/events).
"use strict";

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text; // never HTML: the text is the students'
  if (cls) td.className = cls;
  tr.appendChild(td);
}

function seen(s) {
  if (s.connected) return "now";
  if (!s.last_seen) return "never";
  const m = Math.round((Date.now() - Date.parse(s.last_seen)) / 60000);
  return m < 1 ? "just now" : m + " min ago";
}

function drawClass(data) {
  const body = document.querySelector("#class tbody");
  body.replaceChildren();
  let on = 0, stuck = 0;
  for (const s of data.students) {
    if (s.connected) on++;
    if (s.stuck) stuck++;
    const tr = document.createElement("tr");
    tr.id = "student-" + s.name;
    if (s.stuck) tr.className = "stuck";
    if (!s.connected && !s.stuck) tr.className = "off";
    cell(tr, s.name);
    cell(tr, seen(s));
    cell(tr, (s.order ? s.order + " " : "") + (s.screen || ""));
    cell(tr, String(s.lessons_done), "num");
    cell(tr, s.quiz_right + "/" + s.quiz_answered, "num quiz");
    cell(tr, String(s.challenges_passed), "num");
    cell(tr, s.stuck ? s.stuck_why : "");
    body.appendChild(tr);
  }
  document.getElementById("summary").textContent =
    data.students.length + " students, " + on + " connected, " + stuck + " stuck";
}

function drawLessons(data) {
  const body = document.querySelector("#lessons tbody");
  body.replaceChildren();
  for (const l of data.lessons) {
    const tr = document.createElement("tr");
    cell(tr, l.order + " " + l.title);
    cell(tr, String(l.read), "num");
    cell(tr, String(l.quiz_passed), "num");
    cell(tr, (l.challenges || []).map(c => c.passed).join(" / ") || "–");
    const m = (l.missed || [])[0];
    cell(tr, m ? m.wrong + " of " + m.answered + ": " + m.prompt : "", "missed");
    body.appendChild(tr);
  }
}

let busy = false, again = false;
async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    const [c, l] = await Promise.all([fetch("api/class"), fetch("api/lessons")]);
    if (c.ok && l.ok) {
      drawClass(await c.json());
      drawLessons(await l.json());
    }
  } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}

const events = new EventSource("events");
events.addEventListener("change", refresh);
setInterval(refresh, 30000); // "last seen" ages even when nothing changes
refresh();
