package io.scrna.nf;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Append-only JSON-lines file holding events the API has not acknowledged yet, in the order they were spilled.
 * {@code offset} is the byte position up to which lines were delivered during this run; only this process
 * writes the file, so {@code size} is known without stat calls.
 */
final class Spool {
    final Path file;
    private long offset;
    private long size;

    Spool(Path file) {
        this.file = file;
    }

    /** A spool left by an earlier run in the same launch dir is kept apart (for `scrna events replay`), not mixed in. */
    synchronized Path setAsideLeftover() throws IOException {
        if (!Files.exists(file) || Files.size(file) == 0) return null;
        Path aside = file.resolveSibling(file.getFileName() + "." + System.currentTimeMillis());
        Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
        return aside;
    }

    synchronized void append(List<String> lines) throws IOException {
        if (lines.isEmpty()) return;
        StringBuilder sb = new StringBuilder();
        for (String l : lines) sb.append(l).append('\n');
        byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
        if (file.getParent() != null) Files.createDirectories(file.getParent());
        Files.write(file, bytes, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        size += bytes.length;
    }

    synchronized boolean hasPending() {
        return offset < size;
    }

    /** Up to {@code max} undelivered lines; {@code end[0]} receives the byte offset just past them. */
    synchronized List<String> peek(int max, long[] end) throws IOException {
        List<String> lines = new ArrayList<>();
        long pos = offset;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ch.position(offset);
            BufferedReader r = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            String line;
            while (lines.size() < max && pos < size && (line = r.readLine()) != null) {
                pos += line.getBytes(StandardCharsets.UTF_8).length + 1;
                if (!line.isBlank()) lines.add(line);
            }
        }
        end[0] = pos;
        return lines;
    }

    synchronized void advance(long to) {
        offset = Math.max(offset, to);
    }

    /** Undelivered line count. */
    synchronized int pendingCount() throws IOException {
        return hasPending() ? peek(Integer.MAX_VALUE, new long[1]).size() : 0;
    }

    /**
     * At the end of the run: delete the file when everything was delivered, otherwise rewrite it (atomically)
     * to hold only the undelivered lines so a later replay sends just those.
     */
    synchronized void compact() throws IOException {
        if (!hasPending()) {
            Files.deleteIfExists(file);
            offset = size = 0;
            return;
        }
        if (offset == 0) return;
        List<String> rest = peek(Integer.MAX_VALUE, new long[1]);
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            for (String l : rest) w.write(l + "\n");
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        size = Files.size(file);
        offset = 0;
    }
}
