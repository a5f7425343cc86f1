// The booking page: lists each service's free slots by day in the visitor's time zone, books one,
// and says clearly what happened; with a manage link (#manage/{booking id}/{token}) it shows that
// booking and lets its holder move or cancel it. Plain JavaScript, no framework, same-origin API
// only. The manage token travels in the URL's fragment, which browsers never send to a server.

const $ = (selector) => document.querySelector(selector);
const elements = {
  zone: $("#time-zone"),
  status: $("#status"),
  services: $("#services"),
  form: $("#booking-form"),
  chosen: $("#chosen-slot"),
  name: $("#user-name"),
  email: $("#email"),
  submit: $("#book-button"),
  cancel: $("#change-slot"),
  formError: $("#form-error"),
  confirmation: $("#confirmation"),
  confirmationText: $("#confirmation-text"),
  manageLink: $("#manage-link"),
  again: $("#book-another"),
  manage: $("#manage"),
  manageTitle: $("#manage-title"),
  manageText: $("#manage-text"),
  manageError: $("#manage-error"),
  manageActions: $("#manage-actions"),
  move: $("#move-button"),
  cancelBooking: $("#cancel-button"),
  confirmCancel: $("#confirm-cancel"),
  moveSlots: $("#move-slots"),
};

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const zoneName = new Intl.DateTimeFormat(undefined, { timeZoneName: "long" })
  .formatToParts(new Date()).find((part) => part.type === "timeZoneName")?.value ?? zone;

let choice = null; // { service, slot, key }: the slot chosen, and the idempotency key of its booking
let managed = null; // { id, token, booking, service }: the booking the manage link names

function showStatus(text, kind = "info") {
  elements.status.textContent = text;
  elements.status.dataset.kind = kind;
}

function showError(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

/** A fresh Idempotency-Key: a retry of one submission reuses it, so it can never book twice. */
function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Calls the API; throws an Error with `status` and `code` for anything but a 2xx. */
async function api(path, { token, key, ...options } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (key) headers["Idempotency-Key"] = key;
  let response;
  try {
    response = await fetch(path, { headers, ...options });
  } catch {
    throw Object.assign(new Error("network"), { status: 0, code: "network" });
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw Object.assign(new Error(body.error?.message ?? response.statusText), { status: response.status, code: body.error?.code });
  }
  return body;
}

function unavailableMessage(what = "Nothing was booked") {
  return `The booking service is unavailable right now. ${what}; please try again in a moment.`;
}

function upcoming(slots) {
  const now = Date.now();
  return slots.filter((slot) => Date.parse(slot) > now);
}

async function loadServices() {
  try {
    const { services } = await api("/services");
    elements.services.replaceChildren(...services.map((service) => renderService(service, upcoming(service.available_slots))));
    if (!services.length) showStatus("No services are offered yet.");
    else if (elements.status.dataset.kind !== "error") showStatus("Choose a time to book.");
    return true;
  } catch {
    showStatus(unavailableMessage(), "error");
    return false;
  }
}

function renderService(service, slots) {
  const section = document.createElement("section");
  section.className = "service";
  section.dataset.serviceId = service.service_id;
  const heading = document.createElement("h2");
  heading.id = `service-${service.service_id}`;
  heading.textContent = service.service_name;
  section.setAttribute("aria-labelledby", heading.id);
  section.append(heading, ...renderSlots(service, slots, (slot) => choose(service, slot), (slot) => isChosen(service, slot)));
  return section;
}

/** The slots grouped by day, each a button that calls `onChoose`; or a line saying there are none. */
function renderSlots(service, slots, onChoose, isPressed = () => false) {
  if (!slots.length) {
    const none = document.createElement("p");
    none.className = "empty";
    none.textContent = "No free times at the moment.";
    return [none];
  }
  const days = new Map();
  for (const slot of slots) {
    const day = dayFormat.format(new Date(slot));
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(slot);
  }
  const nodes = [];
  for (const [day, daySlots] of days) {
    const dayHeading = document.createElement("h3");
    dayHeading.textContent = day;
    const list = document.createElement("ul");
    list.className = "slots";
    for (const slot of daySlots) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "slot";
      button.dataset.slot = slot;
      button.textContent = timeFormat.format(new Date(slot));
      button.setAttribute("aria-label", `${service.service_name}, ${fullFormat.format(new Date(slot))}`);
      button.setAttribute("aria-pressed", String(isPressed(slot)));
      button.addEventListener("click", () => onChoose(slot));
      item.append(button);
      list.append(item);
    }
    nodes.push(dayHeading, list);
  }
  return nodes;
}

function isChosen(service, slot) {
  return choice?.slot === slot && choice?.service.service_id === service.service_id;
}

function choose(service, slot) {
  choice = { service, slot, key: newKey() };
  elements.services.querySelectorAll("button.slot").forEach((button) => {
    const selected = button.dataset.slot === slot && button.closest(".service").dataset.serviceId === service.service_id;
    button.setAttribute("aria-pressed", String(selected));
  });
  elements.chosen.textContent = `${service.service_name}, ${fullFormat.format(new Date(slot))}`;
  elements.confirmation.hidden = true;
  elements.form.hidden = false;
  elements.submit.disabled = false;
  showError(elements.formError, "");
  elements.form.scrollIntoView({ block: "start" });
  elements.name.focus({ preventScroll: true });
}

function manageURL(id, token) {
  return `${location.origin}/#manage/${encodeURIComponent(id)}/${token}`;
}

elements.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!choice) return;
  const userName = elements.name.value.trim();
  const email = elements.email.value.trim();
  if (!userName) {
    showError(elements.formError, "Please enter your name.");
    elements.name.focus();
    return;
  }
  if (email && !elements.email.checkValidity()) {
    showError(elements.formError, "Please check your email address, or leave it empty.");
    elements.email.focus();
    return;
  }
  elements.submit.disabled = true;
  showError(elements.formError, "");
  try {
    const booking = await api("/book", {
      method: "POST",
      key: choice.key,
      body: JSON.stringify({ service_id: choice.service.service_id, slot: choice.slot, user_name: userName, ...(email ? { email } : {}) }),
    });
    elements.confirmationText.textContent =
      `${choice.service.service_name}, ${fullFormat.format(new Date(booking.slot))}, for ${booking.user_name}. ` +
      `Your booking id is ${booking.booking_id}.`;
    elements.confirmation.dataset.bookingId = booking.booking_id;
    elements.manageLink.href = manageURL(booking.booking_id, booking.manage_token);
    elements.manageLink.textContent = elements.manageLink.href;
    elements.form.hidden = true;
    elements.confirmation.hidden = false;
    elements.confirmation.querySelector("h2").focus();
    choice = null;
    await loadServices();
  } catch (error) {
    if (error.status === 409 && error.code === "slot_taken") {
      showError(elements.formError, "Sorry, someone has just booked that time. Please choose another one; your name is kept.");
      choice = null;
      elements.chosen.textContent = "No time chosen";
      await loadServices();
    } else if (error.status === 400 || error.status === 422) {
      showError(elements.formError, `Please check your booking: ${error.message}`);
      elements.name.focus();
    } else {
      showError(elements.formError, unavailableMessage());
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

// Managing one booking, from its link.

/** The booking id and token the URL's fragment names, or null. */
function manageTarget() {
  const match = /^#manage\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(location.hash);
  return match ? { id: decodeURIComponent(match[1]), token: match[2] } : null;
}

function describe(booking) {
  const service = managed?.service?.service_name ?? booking.service_id;
  const when = fullFormat.format(new Date(booking.slot));
  return booking.status === "cancelled"
    ? `Cancelled: ${service}, ${when}, for ${booking.user_name}.`
    : `${service}, ${when}, for ${booking.user_name}. Booking id ${booking.booking_id}.`;
}

function showBooking(booking, note = "") {
  managed.booking = booking;
  elements.manage.dataset.status = booking.status;
  elements.manageTitle.textContent = booking.status === "cancelled" ? "Booking cancelled" : "Your booking";
  elements.manageText.textContent = `${note}${describe(booking)}`;
  const begun = Date.parse(booking.slot) <= Date.now();
  elements.manageActions.hidden = booking.status !== "confirmed" || begun;
  elements.confirmCancel.hidden = true;
  elements.moveSlots.hidden = true;
  if (booking.status === "confirmed" && begun) elements.manageText.textContent += " It has begun, so it can no longer be changed here.";
}

function manageFailure(error, what) {
  if (error.status === 401 || error.status === 403) return "This link does not fit the booking. Please use the link you were given when you booked.";
  if (error.status === 404) return "There is no such booking.";
  if (error.code === "booking_in_past") return "The booking has begun, so it can no longer be changed here.";
  if (error.code === "booking_cancelled") return "The booking is cancelled.";
  if (error.status === 0 || error.status >= 500) return unavailableMessage(what);
  return error.message;
}

async function openManage(target) {
  managed = { ...target, booking: null, service: null, key: null };
  elements.form.hidden = true;
  elements.confirmation.hidden = true;
  elements.services.hidden = true;
  elements.status.hidden = true;
  elements.manage.hidden = false;
  showError(elements.manageError, "");
  elements.manageActions.hidden = true;
  elements.moveSlots.hidden = true;
  elements.manageText.textContent = "Loading your booking…";
  try {
    const booking = await api(`/bookings/${encodeURIComponent(target.id)}`, { token: target.token });
    managed.service = await api(`/services/${encodeURIComponent(booking.service_id)}`).catch(() => null);
    showBooking(booking);
  } catch (error) {
    elements.manageText.textContent = "";
    showError(elements.manageError, manageFailure(error, "Nothing was changed"));
  }
  elements.manageTitle.focus();
}

elements.cancelBooking.addEventListener("click", () => {
  elements.confirmCancel.hidden = false;
  elements.confirmCancel.focus();
});

elements.confirmCancel.addEventListener("click", async () => {
  elements.confirmCancel.disabled = true;
  showError(elements.manageError, "");
  managed.key ??= newKey();
  try {
    const booking = await api(`/bookings/${encodeURIComponent(managed.id)}`, { method: "DELETE", token: managed.token, key: managed.key });
    managed.key = null;
    showBooking(booking);
    elements.manageTitle.focus();
  } catch (error) {
    showError(elements.manageError, manageFailure(error, "The booking was not cancelled"));
  } finally {
    elements.confirmCancel.disabled = false;
  }
});

elements.move.addEventListener("click", () => {
  showError(elements.manageError, "");
  elements.confirmCancel.hidden = true;
  showMoveSlots();
});

/** The service's free times, as buttons that move the booking there. */
async function showMoveSlots() {
  try {
    managed.service = await api(`/services/${encodeURIComponent(managed.booking.service_id)}`);
  } catch (error) {
    showError(elements.manageError, manageFailure(error, "Nothing was changed"));
    return;
  }
  const heading = document.createElement("h3");
  heading.textContent = "Choose the new time";
  elements.moveSlots.replaceChildren(heading, ...renderSlots(managed.service, upcoming(managed.service.available_slots), moveTo));
  elements.moveSlots.hidden = false;
  elements.moveSlots.querySelector("button.slot")?.focus();
}

async function moveTo(slot) {
  showError(elements.manageError, "");
  elements.moveSlots.querySelectorAll("button").forEach((button) => { button.disabled = true; });
  try {
    const booking = await api(`/bookings/${encodeURIComponent(managed.id)}/reschedule`, {
      method: "POST", token: managed.token, key: newKey(), body: JSON.stringify({ slot }),
    });
    showBooking(booking, "Moved. ");
    elements.manageTitle.focus();
  } catch (error) {
    const taken = error.code === "slot_taken";
    showError(elements.manageError, taken ? "Sorry, someone has just booked that time; your booking is unchanged. Please choose another." : manageFailure(error, "Your booking is unchanged"));
    if (taken) showMoveSlots();
    else elements.moveSlots.querySelectorAll("button").forEach((button) => { button.disabled = false; });
  }
}

function route() {
  const target = manageTarget();
  if (target) {
    openManage(target);
    return;
  }
  managed = null;
  elements.manage.hidden = true;
  elements.services.hidden = false;
  elements.status.hidden = false;
  loadServices();
}

window.addEventListener("hashchange", route);
elements.zone.textContent = `Times are shown in your time zone: ${zoneName} (${zone}).`;
route();
