import { redirect } from "react-router";
import { signOutCookie } from "../lib/auth.server";
import { access } from "../lib/config.server";
import { viewerPath } from "../lib/viewer-routes";
import type { Route } from "./+types/logout";

/** POST signs out (the session cookie is removed); a GET only goes back to the overview. */
export function action({ request }: Route.ActionArgs) {
  const to = access().mode === "login" ? viewerPath("login") : viewerPath("overview");
  throw redirect(to, { headers: { "Set-Cookie": signOutCookie(request) } });
}

export function loader() {
  throw redirect(viewerPath("overview"));
}
