import { Fragment, type ReactNode } from "react";
import { Link } from "react-router";
import { isSourceName } from "../lib/sources";
import { viewerPath } from "../lib/viewer-routes";

/**
 * Links to the source pages (tracked objects, line crossings and zones) of `sources`, in their order, over one range
 * (`range`, a source page query string), after `children`; `title` is a link's tooltip. A source whose name cannot
 * be a page's is left out, and without any the paragraph is too (the overview and the hour page list them alike).
 */
export function SourcePageLinks({
  sources,
  range,
  title,
  className,
  children,
}: {
  sources: readonly string[];
  range: string;
  title: (source: string) => string;
  className: string;
  children: ReactNode;
}) {
  const named = sources.filter(isSourceName);
  if (named.length === 0) return null;
  return (
    <p className={className} data-testid="source-pages">
      {children}{" "}
      {named.map((source, index) => (
        <Fragment key={source}>
          {index > 0 && " · "}
          <Link to={viewerPath("source", { name: source }) + range} title={title(source)} data-source={source}>
            {source}
          </Link>
        </Fragment>
      ))}
    </p>
  );
}
