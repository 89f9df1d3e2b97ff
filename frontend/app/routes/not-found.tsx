import { fail } from "../lib/http.server";

export function loader(): never {
  fail(404, "There is no page at this address.");
}

export default function NotFound() {
  return null;
}
