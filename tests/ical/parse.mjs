// Reads one iCalendar object on stdin, parses it with ical.js (Thunderbird's parser) and prints
// what a calendar client acts on, as JSON.
import ICAL from "ical.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const calendar = new ICAL.Component(ICAL.parse(Buffer.concat(chunks).toString("utf8")));
const person = (property) => ({
  address: property.getFirstValue(),
  params: Object.fromEntries(
    Object.entries(property.toJSON()[1]).map(([name, value]) => [name.toUpperCase(), value]),
  ),
});
const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  const organizer = vevent.getFirstProperty("organizer");
  return {
    uid: event.uid,
    sequence: event.sequence,
    status: vevent.getFirstPropertyValue("status"),
    dtstamp: vevent.getFirstPropertyValue("dtstamp")?.toString() ?? null,
    start: event.startDate.toString(),
    end: event.endDate.toString(),
    organizer: organizer ? person(organizer) : null,
    attendees: vevent.getAllProperties("attendee").map(person),
  };
});
process.stdout.write(JSON.stringify({
  method: calendar.getFirstPropertyValue("method"),
  version: calendar.getFirstPropertyValue("version"),
  events,
}));
