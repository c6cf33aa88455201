/**
 * Zip archives: a streaming writer and a bounded reader (no third-party zip code; node:zlib does deflate and
 * CRC-32). Used by ASiC-E containers (src/containers/asic) and case packages. Written here rather than taken from
 * yazl/yauzl/fflate because the rules a hostile archive must meet (limits, names, local-vs-central consistency,
 * overlaps) are the point, and they are easier to state and test in ~600 lines we own than around a parser
 * written for leniency; the writer is the smaller half.
 *
 * Writing (streams to any Writable, with backpressure; never holds a whole entry):
 *
 *   const out = fs.createWriteStream("x.zip");            // or a PassThrough handed to an HTTP reply
 *   const zip = createZipWriter(out, { mtime });           // mtime: default time of entries (reproducible bytes)
 *   await zip.addFile("mimetype", Buffer.from("…"), { method: "store" });
 *   await zip.addFile("材料/租赁合同.pdf", fs.createReadStream(p)); // deflate by default; UTF-8 names (EFS flag)
 *   await zip.addDirectory("META-INF/");
 *   const { size } = await zip.finish();                   // central directory + end records; `out` is not ended
 *   out.end();
 *
 * Reading (everything checked on open; entry data on demand, size and CRC-32 checked as it streams):
 *
 *   const zip = await openZip(bufferOrPathOrSource, { maxEntries: 100 });   // limits: ZIP_LIMITS, override per call
 *   for (const e of zip.entries) …                          // name, size, method, crc32, mtime, isDirectory…
 *   zip.issues                                             // reported, not refused: case collisions, stray bytes
 *   const bytes = await zip.readEntry(zip.get("mimetype")!, 1024);  // in memory, bounded
 *   zip.openEntry(e).pipe(…)                               // streamed; errors ZIP_ENTRY_CORRUPT on mismatch
 *   await zip.close();
 *
 * Errors are AppErrors with `details.check`: ZIP_INVALID, ZIP_LIMIT_EXCEEDED, ZIP_UNSAFE_ENTRY, ZIP_DUPLICATE_ENTRY,
 * ZIP_ENCRYPTED, ZIP_UNSUPPORTED, ZIP_ENTRY_CORRUPT (docs/errors.md; the rules are listed in reader.ts).
 * The work is linear in the archive: one pass over the central directory, one read per local header; inflation runs
 * on libuv's thread pool, so the event loop only moves chunks.
 */
export { createZipWriter, type ZipWriter, type ZipWriterOptions, type ZipEntryOptions, type ZipData, type WrittenEntry } from "./writer.js";
export { openZip, bufferSource, fileSource, type ZipArchive, type ZipEntry, type ZipIssue, type ZipSource } from "./reader.js";
export { ZIP_LIMITS, type ZipLimits } from "./limits.js";
export { unsafeNameReason } from "./names.js";
