import { createContext, useContext } from "react";

/**
 * The per-request nonce of the page's Content-Security-Policy (entry.server.tsx makes it), for the inline scripts
 * React Router renders (`<Scripts>`, `<ScrollRestoration>`). Undefined in the browser, which hides nonces anyway.
 */
export const NonceContext = createContext<string | undefined>(undefined);

export function useNonce(): string | undefined {
  return useContext(NonceContext);
}
