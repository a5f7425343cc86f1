// The booking page: lists each service's free slots by day in the visitor's time zone, books one,
// and says clearly what happened. Plain JavaScript, no framework, same-origin API only.

const elements = {
  zone: document.querySelector("#time-zone"),
  status: document.querySelector("#status"),
  services: document.querySelector("#services"),
  form: document.querySelector("#booking-form"),
  chosen: document.querySelector("#chosen-slot"),
  name: document.querySelector("#user-name"),
  submit: document.querySelector("#book-button"),
  cancel: document.querySelector("#change-slot"),
  formError: document.querySelector("#form-error"),
  confirmation: document.querySelector("#confirmation"),
  confirmationText: document.querySelector("#confirmation-text"),
  again: document.querySelector("#book-another"),
};

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const zoneName = new Intl.DateTimeFormat(undefined, { timeZoneName: "long" })
  .formatToParts(new Date()).find((part) => part.type === "timeZoneName")?.value ?? zone;

let choice = null; // { service, slot }

function showStatus(text, kind = "info") {
  elements.status.textContent = text;
  elements.status.dataset.kind = kind;
}

function showFormError(text) {
  elements.formError.textContent = text;
  elements.formError.hidden = !text;
}

/** Calls the API; throws an Error with `status` and `code` for anything but a 2xx. */
async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { headers: { "Content-Type": "application/json" }, ...options });
  } catch {
    throw Object.assign(new Error("network"), { status: 0, code: "network" });
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw Object.assign(new Error(body.error?.message ?? response.statusText), { status: response.status, code: body.error?.code });
  }
  return body;
}

function unavailableMessage() {
  return "The booking service is unavailable right now. Nothing was booked; please try again in a moment.";
}

async function loadServices() {
  try {
    const { services } = await api("/services");
    const now = Date.now();
    const cards = services
      .map((service) => ({ ...service, slots: service.available_slots.filter((slot) => Date.parse(slot) > now) }))
      .map(renderService);
    elements.services.replaceChildren(...cards);
    if (!services.length) showStatus("No services are offered yet.");
    else if (elements.status.dataset.kind !== "error") showStatus("Choose a time to book.");
    return true;
  } catch {
    showStatus(unavailableMessage(), "error");
    return false;
  }
}

function renderService(service) {
  const section = document.createElement("section");
  section.className = "service";
  section.dataset.serviceId = service.service_id;
  const heading = document.createElement("h2");
  heading.id = `service-${service.service_id}`;
  heading.textContent = service.service_name;
  section.setAttribute("aria-labelledby", heading.id);
  section.append(heading);
  if (!service.slots.length) {
    const none = document.createElement("p");
    none.className = "empty";
    none.textContent = "No free times at the moment.";
    section.append(none);
    return section;
  }
  const days = new Map();
  for (const slot of service.slots) {
    const day = dayFormat.format(new Date(slot));
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(slot);
  }
  for (const [day, slots] of days) {
    const dayHeading = document.createElement("h3");
    dayHeading.textContent = day;
    const list = document.createElement("ul");
    list.className = "slots";
    for (const slot of slots) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "slot";
      button.dataset.slot = slot;
      button.textContent = timeFormat.format(new Date(slot));
      button.setAttribute("aria-label", `${service.service_name}, ${fullFormat.format(new Date(slot))}`);
      button.setAttribute("aria-pressed", String(choice?.slot === slot && choice?.service.service_id === service.service_id));
      button.addEventListener("click", () => choose(service, slot));
      item.append(button);
      list.append(item);
    }
    section.append(dayHeading, list);
  }
  return section;
}

function choose(service, slot) {
  choice = { service, slot };
  document.querySelectorAll("button.slot").forEach((button) => {
    const selected = button.dataset.slot === slot && button.closest(".service").dataset.serviceId === service.service_id;
    button.setAttribute("aria-pressed", String(selected));
  });
  elements.chosen.textContent = `${service.service_name}, ${fullFormat.format(new Date(slot))}`;
  elements.confirmation.hidden = true;
  elements.form.hidden = false;
  elements.submit.disabled = false;
  showFormError("");
  elements.form.scrollIntoView({ block: "start" });
  elements.name.focus({ preventScroll: true });
}

elements.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!choice) return;
  const userName = elements.name.value.trim();
  if (!userName) {
    showFormError("Please enter your name.");
    elements.name.focus();
    return;
  }
  elements.submit.disabled = true;
  showFormError("");
  try {
    const booking = await api("/book", {
      method: "POST",
      body: JSON.stringify({ service_id: choice.service.service_id, slot: choice.slot, user_name: userName }),
    });
    elements.confirmationText.textContent =
      `${choice.service.service_name}, ${fullFormat.format(new Date(booking.slot))}, for ${booking.user_name}. ` +
      `Your booking id is ${booking.booking_id}.`;
    elements.confirmation.dataset.bookingId = booking.booking_id;
    elements.form.hidden = true;
    elements.confirmation.hidden = false;
    elements.confirmation.querySelector("h2").focus();
    choice = null;
    await loadServices();
  } catch (error) {
    if (error.status === 409) {
      showFormError("Sorry, someone has just booked that time. Please choose another one; your name is kept.");
      choice = null;
      elements.chosen.textContent = "No time chosen";
      await loadServices();
    } else if (error.status === 400 || error.status === 422) {
      showFormError(`Please check your booking: ${error.message}`);
      elements.name.focus();
    } else {
      showFormError(unavailableMessage());
    }
  } finally {
    elements.submit.disabled = !choice;
  }
});

elements.cancel.addEventListener("click", () => {
  choice = null;
  elements.form.hidden = true;
  document.querySelectorAll("button.slot[aria-pressed=true]").forEach((button) => button.setAttribute("aria-pressed", "false"));
});

elements.again.addEventListener("click", () => {
  elements.confirmation.hidden = true;
  elements.services.querySelector("button.slot")?.focus();
});

elements.zone.textContent = `Times are shown in your time zone: ${zoneName} (${zone}).`;
loadServices();
