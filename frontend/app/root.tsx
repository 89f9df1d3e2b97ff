import {
  Form,
  Link,
  Links,
  Meta,
  NavLink,
  Outlet,
  Scripts,
  ScrollRestoration,
  isRouteErrorResponse,
  useRouteLoaderData,
} from "react-router";
import type { Route } from "./+types/root";
import { requireAccess, securityHeaders, userContext } from "./lib/auth.server";
import { access } from "./lib/config.server";
import { useNonce } from "./lib/nonce";
import { viewerPath } from "./lib/viewer-routes";
import "./app.css";

// Every page, data request, medium and download: the security headers, then the access check (docs/security.md).
export const middleware: Route.MiddlewareFunction[] = [securityHeaders, requireAccess];

export function loader({ context }: Route.LoaderArgs) {
  return { user: context.get(userContext), canSignOut: access().mode === "login" };
}

export function meta() {
  return [{ title: "imgassets viewer" }];
}

// Both from public/: the SVG for browsers that take one, the .ico for the rest (and for /favicon.ico asked blindly).
export const links: Route.LinksFunction = () => [
  { rel: "icon", href: "/favicon.ico", sizes: "48x48" },
  { rel: "icon", href: "/favicon.svg", type: "image/svg+xml" },
];

export function Layout({ children }: { children: React.ReactNode }) {
  const nonce = useNonce();
  const signedIn = useRouteLoaderData<typeof loader>("root");
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        <header className="topbar">
          <Link to={viewerPath("overview")} className="brand">
            imgassets
          </Link>
          <span className="tagline">real-time image analytics</span>
          <nav className="topnav" aria-label="Site">
            <NavLink to={viewerPath("overview")} end>
              Overview
            </NavLink>
            <NavLink to={viewerPath("search")}>Search</NavLink>
            <NavLink to={viewerPath("compare")}>Compare</NavLink>
          </nav>
          {signedIn?.user && (
            <span className="who">
              <span className="user">{signedIn.user}</span>
              {signedIn.canSignOut && (
                <Form method="post" action={viewerPath("logout")} reloadDocument>
                  <button type="submit">Sign out</button>
                </Form>
              )}
            </span>
          )}
        </header>
        <main>{children}</main>
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Sign-in required",
  403: "Forbidden",
  404: "Not found",
  503: "Service unavailable",
};

export function ErrorBoundary({ error }: Route.ErrorBoundaryProps) {
  let status = 500;
  let message = "Something went wrong while rendering this page.";
  if (isRouteErrorResponse(error)) {
    status = error.status;
    const data = error.data as { message?: unknown } | string | undefined;
    message = typeof data === "object" && typeof data?.message === "string" ? data.message : error.statusText || message;
  } else {
    console.error(error);
  }
  return (
    <section className="error" data-status={status}>
      <h1>
        {status} {TITLES[status] ?? "Error"}
      </h1>
      <p>{message}</p>
      {status === 503 && (
        <p className="hint">
          The viewer reads the pipeline's S3 bucket, and asks its query endpoint (<code>imgassets serve-queries</code>)
          for searches and image grids. Check that the stack runs (<code>imgassets stack up</code>) and that the{" "}
          <code>IMGASSETS_S3_*</code> settings and <code>IMGASSETS_QUERY_URL</code> point at them (and that the viewer and
          the query endpoint share the same <code>IMGASSETS_QUERY_TOKEN</code>); this page will work again once they
          answer.
        </p>
      )}
      <p>
        <Link to={viewerPath("overview")}>Back to the overview</Link>
      </p>
    </section>
  );
}
