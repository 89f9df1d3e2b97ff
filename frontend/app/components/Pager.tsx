import { Link } from "react-router";

/** Previous / "page n of m" / next links of a paged grid; `href` builds the link of a page. */
export function Pager({ page, pageCount, href }: { page: number; pageCount: number; href: (page: number) => string }) {
  if (pageCount <= 1) return null;
  return (
    <nav className="pager" aria-label="Pages">
      {page > 1 ? (
        <Link to={href(page - 1)} rel="prev">
          ‹ previous
        </Link>
      ) : (
        <span />
      )}
      <span>
        page {page} of {pageCount}
      </span>
      {page < pageCount ? (
        <Link to={href(page + 1)} rel="next">
          next ›
        </Link>
      ) : (
        <span />
      )}
    </nav>
  );
}
