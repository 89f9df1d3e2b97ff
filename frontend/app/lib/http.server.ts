/** Turns failures into HTTP responses that the route error boundaries render. */
import { data } from "react-router";
import { InvalidKey } from "./layout";
import { QueryEndpointError } from "./query.server";
import { StorageError } from "./s3.server";

export interface ErrorData {
  message: string;
}

export function fail(status: number, message: string): never {
  throw data<ErrorData>({ message }, { status });
}

/** A plain-text answer, for resource routes (media, downloads), which have no error page. */
export function plain(status: number, text: string): Response {
  return new Response(text, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

/**
 * Runs a loader body; S3, query endpoint and key failures become 400/404/503 responses instead of a 500.
 */
export async function guard<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof InvalidKey) fail(400, error.message);
    if (error instanceof StorageError) {
      fail(error.status === 404 ? 404 : 503, error.status === 404 ? "Not found." : error.message);
    }
    if (error instanceof QueryEndpointError) fail(error.status, error.message);
    throw error;
  }
}
