// The booking page: lists services and their free slots, books one, shows the outcome.
const statusLine = document.querySelector("#status");
const servicesSection = document.querySelector("#services");
const form = document.querySelector("#booking-form");
const nameInput = document.querySelector("#user-name");
const chosenSlot = document.querySelector("#chosen-slot");
const confirmation = document.querySelector("#confirmation");
let choice = null;

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function say(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

async function api(path, options = {}) {
  const response = await fetch(path, { headers: { "Content-Type": "application/json" }, ...options });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.error?.message ?? response.statusText), { status: response.status });
  return body;
}

async function loadServices() {
  try {
    const { services } = await api("/services");
    servicesSection.replaceChildren(...services.map(renderService));
    say(services.length ? "Choose a slot." : "No services are offered yet.");
  } catch (error) {
    say(`The booking service is unavailable (${error.message}). Try again shortly.`, true);
  }
}

function renderService(service) {
  const article = document.createElement("article");
  article.className = "service";
  const heading = document.createElement("h2");
  heading.textContent = service.service_name;
  const slots = document.createElement("div");
  slots.className = "slots";
  const now = Date.now();
  for (const slot of service.available_slots.filter((s) => Date.parse(s) > now)) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = timeFormat.format(new Date(slot));
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => choose(service, slot, button));
    slots.append(button);
  }
  if (!slots.children.length) slots.textContent = "No free slots.";
  article.append(heading, slots);
  return article;
}

function choose(service, slot, button) {
  document.querySelectorAll("button[aria-pressed=true]").forEach((b) => b.setAttribute("aria-pressed", "false"));
  button.setAttribute("aria-pressed", "true");
  choice = { service, slot };
  chosenSlot.textContent = `${service.service_name}, ${timeFormat.format(new Date(slot))}`;
  form.hidden = false;
  nameInput.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!choice) return;
  try {
    const booking = await api("/book", {
      method: "POST",
      body: JSON.stringify({ service_id: choice.service.service_id, slot: choice.slot, user_name: nameInput.value }),
    });
    confirmation.hidden = false;
    confirmation.textContent = `Booked: ${choice.service.service_name}, ${timeFormat.format(new Date(booking.slot))}. Booking id ${booking.booking_id}.`;
    form.hidden = true;
    choice = null;
    await loadServices();
  } catch (error) {
    say(error.status === 409 ? "Sorry, that slot was just taken. Please choose another." : error.message, true);
    if (error.status === 409) await loadServices();
  }
});

loadServices();
