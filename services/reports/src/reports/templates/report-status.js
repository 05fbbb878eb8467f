// The "being prepared" page of a report: checks in the background whether the report is ready, then
// says so with a link in the page's status message (read out by screen readers). The page is never
// reloaded or replaced by itself (WCAG 2.2.1, 3.2.5): the reader opens the report when they choose.
const status = document.querySelector("[data-report-check]");
if (status) {
  const href = status.dataset.reportCheck;
  const every = Math.max(1, Number(status.dataset.checkSeconds) || 3) * 1000;
  const say = (message, linkText) => {
    const parts = [message];
    if (linkText) {
      const link = document.createElement("a");
      link.href = href;
      link.textContent = linkText;
      parts.push(" ", link);
    }
    status.replaceChildren(...parts);
  };
  const check = async () => {
    let ready = null;
    try {
      const response = await fetch(href, { cache: "no-store", credentials: "same-origin" });
      ready = response.headers.get("X-Report-Ready");
    } catch {
      ready = "no"; // offline for a moment: try again
    }
    if (ready === "yes") {
      say("Your report is ready.", "Open your report");
    } else if (ready === "no") {
      setTimeout(check, every);
    } else {
      say("Your report could not be opened with this link. Check you opened the whole link you were given.");
    }
  };
  setTimeout(check, every);
}
