import type { Config } from "@react-router/dev/config";

export default {
  ssr: true,
  // React Router refuses a form submission whose Origin differs from the request's URL, scheme included; behind a
  // proxy that ends TLS the server sees http while the browser sends https. root.tsx's middleware checks the host
  // instead (app/lib/security.server.ts isSameOrigin), so React Router's check accepts every origin.
  allowedActionOrigins: ["**"],
  future: {
    // Route middleware: root.tsx checks access and sets the security headers of every answer (docs/security.md).
    v8_middleware: true,
  },
} satisfies Config;
