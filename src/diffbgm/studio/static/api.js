// The studio server's JSON API (relative URLs: the page works under any prefix).

export class ApiError extends Error {}

async function parse(response) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
    throw new ApiError(detail || `${response.status} ${response.statusText}`);
  }
  return body;
}

export async function get(path) {
  return parse(await fetch(path, { credentials: "same-origin" }));
}

export async function post(path, body = {}) {
  return parse(await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  }));
}

// Send a file as the request's body; onProgress(fraction) as it goes.
export function upload(path, file, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", `${path}?name=${encodeURIComponent(file.name)}`);
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onload = () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch { /* not JSON: the status says it */ }
      if (request.status >= 200 && request.status < 300) resolve(body);
      else reject(new ApiError(body.detail || `${request.status} ${request.statusText}`));
    };
    request.onerror = () => reject(new ApiError("the upload failed (is the studio still running?)"));
    request.send(file);
  });
}

// Poll the session's job until it ends; onStatus(status) on every poll. Resolves with the last status.
export async function followJob(onStatus, everyMs = 250) {
  for (;;) {
    const status = await get("api/job");
    onStatus(status);
    if (["done", "failed", "cancelled"].includes(status.state)) return status;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
