// The upload widget: Uppy's dashboard (drag and drop, several files, progress per file, retry)
// and its S3 plugin speaking the API's routes: a presigned PUT (single-use) for most files, S3 multipart
// (resumable) for large ones. Restrictions come from config.json (maxBytes, acceptedTypes): the API's own limits.
import AwsS3 from "@uppy/aws-s3";
import Uppy from "@uppy/core";
import Dashboard from "@uppy/dashboard";

import { formatBytes } from "./dom.js";

const MIB = 1024 * 1024;
// Above this, multipart: parts can be retried one by one and an upload resumes after a reload.
export const MULTIPART_ABOVE_BYTES = 10 * MIB;
// What the API cuts the parts at (docs/api.md: max(5 MiB, ceil(size / 10000))).
const partSize = (size) => Math.max(5 * MIB, Math.ceil(size / 10000));

export function createUploader(target, { api, limits, onUploaded }) {
  const ids = new Map(); // Uppy's file id -> the API's upload id
  const body = (file) => ({ filename: file.name, type: file.type, size: file.size });
  const remember = (file, id) => {
    ids.set(file.id, id);
    uppy.setFileMeta(file.id, { imgpipeId: id });
  };
  const idOf = (file) => ids.get(file.id) ?? file.meta.imgpipeId;

  const restrictions = {};
  if (limits.maxBytes) restrictions.maxFileSize = limits.maxBytes;
  if (limits.acceptedTypes?.length) restrictions.allowedFileTypes = limits.acceptedTypes;

  const uppy = new Uppy({ id: "imgpipe", autoProceed: false, restrictions });
  uppy.use(Dashboard, {
    inline: true,
    target,
    width: "100%",
    height: 340,
    theme: "light",
    proudlyDisplayPoweredByUppy: false,
    showProgressDetails: true,
    note: limits.maxBytes ? `Photos up to ${formatBytes(limits.maxBytes)} each` : undefined,
  });
  uppy.use(AwsS3, {
    shouldUseMultipart: (file) => file.size > MULTIPART_ABOVE_BYTES,
    getChunkSize: (file) => partSize(file.size),
    async getUploadParameters(file) {
      const ticket = await api.call("POST", "/uploads", body(file));
      remember(file, ticket.id);
      // The ticket's headers are signed (Content-Type, If-None-Match: * so that it writes once);
      // the browser sets the signed Content-Length itself.
      return { method: ticket.method, url: ticket.url, headers: ticket.headers };
    },
    async createMultipartUpload(file) {
      const ticket = await api.call("POST", "/uploads/multipart", body(file));
      remember(file, ticket.id);
      return { uploadId: ticket.upload_id, key: ticket.key };
    },
    async signPart(file, { partNumber }) {
      const signed = await api.call("POST", `/uploads/${idOf(file)}/parts`, { part_numbers: [partNumber] });
      return { method: "PUT", url: signed.parts[0].url };
    },
    async listParts(file) {
      const listed = await api.call("GET", `/uploads/${idOf(file)}/parts`);
      return listed.parts.map((p) => ({ PartNumber: p.part_number, Size: p.size, ETag: p.etag }));
    },
    async completeMultipartUpload(file, { parts }) {
      await api.call("POST", `/uploads/${idOf(file)}/complete`, {
        parts: parts.map((p) => ({ part_number: p.PartNumber, etag: p.ETag })),
      });
      return {};
    },
    async abortMultipartUpload(file) {
      const id = idOf(file);
      if (id) await api.call("DELETE", `/uploads/${id}`);
    },
  });
  uppy.on("upload-success", (file) => {
    const id = file && idOf(file);
    if (id) onUploaded({ id, filename: file.name, size: file.size });
  });
  return uppy;
}
