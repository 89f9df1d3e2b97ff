import { Link } from "react-router";
import { classColor } from "../lib/colors";
import type { QueryImage } from "../lib/query.server";
import { viewerPath } from "../lib/viewer-routes";

const THUMB = 320;

/** The file name without the content-hash prefix: abc123def456-dog.jpg → dog.jpg */
export function displayName(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1).replace(/^[0-9a-f]{12}-/, "");
}

export function CountBadges({ counts }: { counts: Record<string, number> }) {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (entries.length === 0) return <span className="muted">no objects</span>;
  return (
    <ul className="badges">
      {entries.map(([label, count]) => (
        <li key={label} data-label={label} data-count={count} style={{ borderColor: classColor(label) }}>
          {label} <b>{count}</b>
        </li>
      ))}
    </ul>
  );
}

/** An image page's heading: the file's name (the whole key as its tooltip), then the whole key. */
export function ImageHeading({ imageKey }: { imageKey: string }) {
  return (
    <>
      <h1 className="image-title" title={imageKey}>
        {displayName(imageKey)}
      </h1>
      <p className="muted key">
        <code>{imageKey}</code>
      </p>
    </>
  );
}

/** A grid card: thumbnail (served through the media_thumbnail route), name, object counts. */
export function ImageCard({ image }: { image: Pick<QueryImage, "image_key" | "width" | "height" | "objects" | "counts"> }) {
  const scale = Math.min(1, THUMB / Math.max(image.width, image.height, 1));
  return (
    <article className="card" data-image-key={image.image_key} data-objects={image.objects}>
      <Link to={viewerPath("image", { key: image.image_key })} className="thumb">
        <img
          src={viewerPath("media_thumbnail", { key: image.image_key })}
          alt={displayName(image.image_key)}
          width={Math.round(image.width * scale)}
          height={Math.round(image.height * scale)}
          loading="lazy"
          decoding="async"
        />
      </Link>
      <div className="card-body">
        <Link to={viewerPath("image", { key: image.image_key })} className="name" title={image.image_key}>
          {displayName(image.image_key)}
        </Link>
        <span className="objects">
          {image.objects} object{image.objects === 1 ? "" : "s"}
        </span>
        <CountBadges counts={image.counts} />
      </div>
    </article>
  );
}
