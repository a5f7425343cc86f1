// The booking page: a customer picks a service, then a day, then a time (in the visitor's time
// zone), then gives a name and email, and is told clearly what happened; /?service={id} opens one
// service (hidden ones too). With a manage link (#manage/{booking id}/{token}) it shows that
// booking and lets its holder move or cancel it. Plain JavaScript, no framework, same-origin API
// only. The manage token travels in the URL's fragment, which browsers never send to a server.

const $ = (selector) => document.querySelector(selector);
const elements = {
  zone: $("#time-zone"),
  status: $("#status"),
  services: $("#services"),
  serviceView: $("#service-view"),
  allServices: $("#all-services"),
  serviceTitle: $("#service-title"),
  serviceDescription: $("#service-description"),
  serviceFacts: $("#service-facts"),
  days: $("#days"),
  times: $("#times"),
  noTimes: $("#no-times"),
  form: $("#booking-form"),
  chosen: $("#chosen-slot"),
  name: $("#user-name"),
  email: $("#email"),
  submit: $("#book-button"),
  cancel: $("#change-slot"),
  formError: $("#form-error"),
  confirmation: $("#confirmation"),
  confirmationText: $("#confirmation-text"),
  confirmationEmail: $("#confirmation-email"),
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
const shortDayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
/** The visitor's calendar date of an instant, as YYYY-MM-DD: what the day buttons are keyed by. */
const dateKey = (slot) => new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(slot));
const zoneName = new Intl.DateTimeFormat(undefined, { timeZoneName: "long" })
  .formatToParts(new Date()).find((part) => part.type === "timeZoneName")?.value ?? zone;

let choice = null; // { service, slot, key }: the slot chosen, and the idempotency key of its booking
let current = null; // { service, day }: the service open, and the day chosen (a dateKey)
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

/** The slots (as `slots` lists them: start, end, seats_left) that have not begun. */
function upcoming(slots) {
  const now = Date.now();
  return slots.filter((slot) => Date.parse(slot.start ?? slot) > now);
}

/** Loads the listed services; shows the list, or re-renders the service open. */
async function loadServices() {
  try {
    const { services } = await api("/services");
    elements.services.replaceChildren(...services.map(renderCard));
    if (!services.length) showStatus("No services are offered yet.");
    else if (elements.status.dataset.kind !== "error") showStatus(current ? "" : "Choose a service.");
    return true;
  } catch {
    showStatus(unavailableMessage(), "error");
    return false;
  }
}

/** "45 minutes · 3 places per time · hours in Europe/Berlin": what a customer should know first. */
function facts(service) {
  const parts = [];
  if (service.duration_minutes) {
    const hours = Math.floor(service.duration_minutes / 60), minutes = service.duration_minutes % 60;
    parts.push([hours && `${hours} h`, minutes && `${minutes} min`].filter(Boolean).join(" "));
  }
  if (service.seats > 1) parts.push(`${service.seats} places per time`);
  if (service.time_zone && service.time_zone !== zone && service.time_zone !== "UTC") parts.push(`the business is in ${service.time_zone} time`);
  return parts.join(" · ");
}

function renderCard(service) {
  const section = document.createElement("section");
  section.className = "service";
  section.dataset.serviceId = service.service_id;
  const heading = document.createElement("h2");
  heading.id = `service-${service.service_id}`;
  heading.textContent = service.service_name;
  section.setAttribute("aria-labelledby", heading.id);
  const nodes = [heading];
  if (service.description) {
    const description = document.createElement("p");
    description.className = "description";
    description.textContent = service.description;
    nodes.push(description);
  }
  const free = upcoming(service.slots);
  const line = document.createElement("p");
  line.className = "facts";
  const summary = [facts(service), free.length ? `next free: ${fullFormat.format(new Date(free[0].start))}` : "no free times at the moment"]
    .filter(Boolean).join(" · ");
  line.textContent = summary.charAt(0).toUpperCase() + summary.slice(1);
  nodes.push(line);
  if (free.length) {
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open-service primary";
    open.textContent = "Choose a time";
    open.setAttribute("aria-label", `Choose a time for ${service.service_name}`);
    open.addEventListener("click", () => openService(service, { push: true }));
    nodes.push(open);
  }
  section.append(...nodes);
  return section;
}

/** Shows one service's days and times; `push` adds /?service={id} to the history. */
function openService(service, { push = false, focus = true } = {}) {
  current = { service, day: current?.service.service_id === service.service_id ? current.day : null };
  if (push) history.pushState(null, "", `/?service=${encodeURIComponent(service.service_id)}`);
  elements.services.hidden = true;
  elements.serviceView.hidden = false;
  showStatus("");
  elements.status.hidden = true;
  elements.serviceTitle.textContent = service.service_name;
  elements.serviceDescription.textContent = service.description ?? "";
  elements.serviceDescription.hidden = !service.description;
  elements.serviceFacts.textContent = facts(service);
  renderDays();
  if (focus) (elements.days.querySelector("button[aria-pressed=true]") ?? elements.serviceTitle).focus();
}

/** The days with free times, as buttons; the chosen one (or the first) pressed, its times below. */
function renderDays() {
  const free = upcoming(current.service.slots);
  const days = [...new Set(free.map((slot) => dateKey(slot.start)))];
  if (!days.includes(current.day)) current.day = days[0] ?? null;
  elements.days.replaceChildren(...days.map((day) => {
    const first = free.find((slot) => dateKey(slot.start) === day);
    const button = choiceButton(shortDayFormat.format(new Date(first.start)), dayFormat.format(new Date(first.start)), day === current.day);
    button.className = "day";
    button.dataset.day = day;
    button.addEventListener("click", () => {
      current.day = day;
      renderDays();
      elements.times.querySelector("button")?.focus();
    });
    return item(button);
  }));
  renderTimes(free.filter((slot) => dateKey(slot.start) === current.day));
}

function renderTimes(slots) {
  const service = current.service;
  elements.noTimes.hidden = slots.length > 0;
  elements.times.replaceChildren(...slots.map((slot) => {
    const left = service.seats > 1 ? ` · ${slot.seats_left} ${slot.seats_left === 1 ? "place" : "places"} left` : "";
    const button = choiceButton(
      `${timeFormat.format(new Date(slot.start))}${left}`, `${service.service_name}, ${fullFormat.format(new Date(slot.start))}${left}`,
      isChosen(service, slot.start));
    button.className = "slot";
    button.dataset.slot = slot.start;
    button.addEventListener("click", () => choose(service, slot.start));
    return item(button);
  }));
}

function choiceButton(text, label, pressed) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = text;
  button.setAttribute("aria-label", label);
  button.setAttribute("aria-pressed", String(pressed));
  return button;
}

function item(child) {
  const li = document.createElement("li");
  li.append(child);
  return li;
}

/** The slots grouped by day, each a button that calls `onChoose`; or a line saying there are none (moving a booking). */
function renderSlots(service, slots, onChoose) {
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
      const button = choiceButton(timeFormat.format(new Date(slot)), `${service.service_name}, ${fullFormat.format(new Date(slot))}`, false);
      button.className = "slot";
      button.dataset.slot = slot;
      button.addEventListener("click", () => onChoose(slot));
      list.append(item(button));
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
  elements.times.querySelectorAll("button.slot").forEach((button) => {
    button.setAttribute("aria-pressed", String(button.dataset.slot === slot));
  });
  elements.chosen.textContent = `${service.service_name}, ${fullFormat.format(new Date(slot))}`;
  elements.confirmation.hidden = true;
  elements.form.hidden = false;
  elements.submit.disabled = false;
  showError(elements.formError, "");
  elements.form.scrollIntoView({ block: "start" });
  elements.name.focus({ preventScroll: true });
}

/** Reads the open service again (after a booking, or a time taken meanwhile) and shows it. */
async function refreshService() {
  if (!current) return loadServices();
  try {
    openService(await api(`/services/${encodeURIComponent(current.service.service_id)}`), { focus: false });
  } catch {
    showStatus(unavailableMessage(), "error");
  }
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
    // Only when the service queued it: without a mail server, or without an address, nothing is sent.
    elements.confirmationEmail.textContent = booking.confirmation_email_queued
      ? `A confirmation has been sent to ${booking.email}, with an invitation for your calendar.`
      : "";
    elements.confirmationEmail.hidden = !booking.confirmation_email_queued;
    elements.manageLink.href = manageURL(booking.booking_id, booking.manage_token);
    elements.manageLink.textContent = elements.manageLink.href;
    elements.form.hidden = true;
    elements.confirmation.hidden = false;
    elements.confirmation.querySelector("h2").focus();
    choice = null;
    await refreshService();
  } catch (error) {
    if (error.status === 409 && error.code === "slot_taken") {
      showError(elements.formError, "Sorry, someone has just booked that time. Please choose another one; your name is kept.");
      choice = null;
      elements.chosen.textContent = "No time chosen";
      await refreshService();
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
  elements.times.querySelectorAll("button.slot[aria-pressed=true]").forEach((button) => button.setAttribute("aria-pressed", "false"));
  elements.times.querySelector("button.slot")?.focus();
});

elements.again.addEventListener("click", () => {
  elements.confirmation.hidden = true;
  (elements.times.querySelector("button.slot") ?? elements.allServices).focus();
});

elements.allServices.addEventListener("click", () => {
  history.pushState(null, "", "/");
  route();
  elements.services.querySelector("button.open-service")?.focus();
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
  elements.serviceView.hidden = true;
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

/** Shows what the URL names: a booking to manage, one service (/?service={id}), or every service. */
async function route() {
  const target = manageTarget();
  if (target) {
    openManage(target);
    return;
  }
  managed = null;
  choice = null;
  elements.manage.hidden = true;
  elements.form.hidden = true;
  elements.confirmation.hidden = true;
  elements.status.hidden = false;
  const serviceID = new URLSearchParams(location.search).get("service");
  if (serviceID) {
    try {
      openService(await api(`/services/${encodeURIComponent(serviceID)}`));
      return;
    } catch (error) {
      current = null;
      if (error.status === 404) showStatus("There is no such service (any more). Please choose one of these.", "error");
      else showStatus(unavailableMessage(), "error");
    }
  } else {
    current = null;
  }
  elements.serviceView.hidden = true;
  elements.services.hidden = false;
  await loadServices();
}

window.addEventListener("hashchange", route);
window.addEventListener("popstate", route);
elements.zone.textContent = `Times are shown in your time zone: ${zoneName} (${zone}).`;
route();
