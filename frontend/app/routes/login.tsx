import { Form, data, redirect, useActionData, useLoaderData, useNavigation } from "react-router";
import { attemptLogin, localTarget, sessionUser } from "../lib/auth.server";
import { access } from "../lib/config.server";
import { plain } from "../lib/http.server";
import { clientOf } from "../lib/peer.server";
import { viewerPath } from "../lib/viewer-routes";
import type { Route } from "./+types/login";

/** Larger bodies are no login form. */
const MAX_BODY = 16 * 1024;

export function meta() {
  return [{ title: "Sign in · imgassets viewer" }];
}

// Never cached; a refusal's Retry-After reaches the browser.
export const headers: Route.HeadersFunction = ({ actionHeaders }) => {
  const headers = new Headers({ "Cache-Control": "no-store" });
  const retry = actionHeaders.get("Retry-After");
  if (retry !== null) headers.set("Retry-After", retry);
  return headers;
};

export function loader({ request }: Route.LoaderArgs) {
  const next = localTarget(new URL(request.url).searchParams.get("next"));
  // Only login mode has a login page; signed in already, go on.
  if (access().mode !== "login" || sessionUser(request) !== null) throw redirect(next);
  return { next };
}

export async function action({ request }: Route.ActionArgs) {
  if (access().mode !== "login") throw redirect(viewerPath("overview"));
  if (Number(request.headers.get("Content-Length") ?? 0) > MAX_BODY) return plain(413, "Too large.\n");
  const form = await request.formData();
  const field = (name: string) => {
    const value = form.get(name);
    return typeof value === "string" ? value.slice(0, 1024) : "";
  };
  const next = localTarget(field("next"));
  const outcome = await attemptLogin(request, clientOf(request), { user: field("user"), password: field("password") });
  if (outcome.ok) throw redirect(next, { headers: { "Set-Cookie": outcome.cookie } });
  return data(
    { error: outcome.message, user: field("user"), next },
    {
      status: outcome.status,
      headers: outcome.retryAfter === undefined ? undefined : { "Retry-After": String(outcome.retryAfter) },
    },
  );
}

export default function Login() {
  const loaded = useLoaderData<typeof loader>();
  const refused = useActionData<typeof action>();
  const next = refused?.next ?? loaded.next;
  const busy = useNavigation().state === "submitting";
  return (
    <section className="login">
      <h1>Sign in</h1>
      {/* A document POST: the session cookie and the redirect arrive as one answer. */}
      <Form method="post" reloadDocument>
        <input type="hidden" name="next" value={next} />
        <label>
          User name
          <input name="user" autoComplete="username" required defaultValue={refused?.user ?? ""} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        {refused?.error && (
          <p className="login-error" role="alert">
            {refused.error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </Form>
    </section>
  );
}
