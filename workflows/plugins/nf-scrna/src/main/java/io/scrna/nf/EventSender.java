package io.scrna.nf;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers events without ever making Nextflow wait on the network. {@link #emit} serialises the event and puts it on a
 * bounded queue; one daemon thread drains the queue in batches (POST of a JSON array) with timeouts and retries
 * (exponential backoff, equal jitter). A batch that still fails goes to the spool file, and while the spool holds
 * undelivered events everything new is appended behind them, so the API receives events in order once it is back.
 * {@link #flushAndClose} gives delivery a bounded time at the end of the run and leaves the rest in the spool.
 */
final class EventSender {
    enum Outcome { OK, REJECTED, FAILED }

    static final String VERSION = "0.1.0";
    private static final Logger log = LoggerFactory.getLogger(ScrnaPlugin.LOGGER);
    private static final long BASE_BACKOFF_MS = 250;
    private static final long MAX_BACKOFF_MS = 10_000;
    // While flushing at the end of the run the deadline is short: retry quickly instead of backing off far.
    private static final long FLUSH_MAX_BACKOFF_MS = 500;

    private final ScrnaConfig cfg;
    private final BlockingQueue<String> queue;
    private final Spool spool;
    private final HttpClient http;
    private final Thread thread;
    /** Guards {@code inFlight}, {@code closed} and the spool's offset against {@link #close} racing the sender. */
    private final Object lock = new Object();
    private final Object wake = new Object();
    private List<String> inFlight;
    private boolean closed;
    private volatile boolean flushing;
    private long seq;
    private volatile long emitted;
    /** Events delivered (or rejected as malformed) straight from the queue, plus events moved to the spool. */
    private final AtomicLong settled = new AtomicLong();
    private final AtomicLong deliveredCount = new AtomicLong();
    private volatile boolean down;

    EventSender(ScrnaConfig cfg) {
        this.cfg = cfg;
        this.queue = new ArrayBlockingQueue<>(cfg.queueSize);
        this.spool = new Spool(cfg.spoolFile);
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis(cfg.connectTimeoutMs))
                .build();
        this.thread = new Thread(this::loop, "nf-scrna-sender");
        thread.setDaemon(true);
    }

    void start() {
        try {
            Path aside = spool.setAsideLeftover();
            if (aside != null)
                log.warn("nf-scrna: undelivered events from an earlier run were moved to {} -- send them with: scrna events replay {}", aside, aside);
        } catch (IOException e) {
            log.warn("nf-scrna: cannot inspect spool file {}: {}", cfg.spoolFile, e.toString());
        }
        thread.start();
    }

    /** Called on Nextflow's threads: assigns the sequence number and queues the event; never touches the network. */
    synchronized void emit(Map<String, Object> event) {
        event.put("seq", ++seq);
        String line;
        try {
            line = Json.write(event);
        } catch (RuntimeException e) {
            log.warn("nf-scrna: cannot serialise event {} #{}: {}", event.get("event"), seq, e.toString());
            line = Json.write(Map.of("seq", seq, "event", String.valueOf(event.get("event")), "runId", String.valueOf(event.get("runId")),
                    "runName", String.valueOf(event.get("runName")), "utcTime", String.valueOf(event.get("utcTime"))));
        }
        emitted = seq;
        synchronized (lock) {
            // After the final flush nothing drains the queue any more: straight to the spool.
            if (closed) {
                spill(List.of(line));
                return;
            }
        }
        if (queue.offer(line)) return;
        // Queue full (API slow or down for long): move the backlog to the spool, in order, so memory stays bounded.
        synchronized (lock) {
            List<String> backlog = new ArrayList<>();
            queue.drainTo(backlog);
            backlog.add(line);
            spill(backlog);
        }
    }

    private void loop() {
        int failures = 0;
        while (!isClosed()) {
            try {
                if (spool.hasPending()) {
                    long[] end = new long[1];
                    List<String> batch;
                    synchronized (lock) {
                        if (closed) return;
                        // New events go behind the spooled ones so the API sees them in order.
                        List<String> backlog = new ArrayList<>();
                        queue.drainTo(backlog);
                        spill(backlog);
                        batch = spool.peek(cfg.batchSize, end);
                    }
                    Outcome o = batch.isEmpty() ? Outcome.OK : post(batch);
                    if (o == Outcome.FAILED) {
                        pause(backoff(++failures));
                        continue;
                    }
                    synchronized (lock) {
                        if (!closed) spool.advance(end[0]);
                    }
                    if (o == Outcome.OK) deliveredCount.addAndGet(batch.size());
                    failures = 0;
                    continue;
                }
                String first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) continue;
                List<String> batch = new ArrayList<>(cfg.batchSize);
                batch.add(first);
                fill(batch);
                synchronized (lock) {
                    if (closed) {
                        spill(batch);
                        return;
                    }
                    inFlight = batch;
                }
                Outcome o = postWithRetries(batch);
                synchronized (lock) {
                    if (closed) return; // close() has spooled the in-flight batch
                    inFlight = null;
                    if (o == Outcome.FAILED) spill(batch);
                    else settled.addAndGet(batch.size());
                }
                if (o == Outcome.OK) deliveredCount.addAndGet(batch.size());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (IOException | RuntimeException e) {
                // e.g. the spool became unreadable: keep the thread alive and try again later.
                log.warn("nf-scrna: event delivery error: {}", e.toString());
                synchronized (lock) {
                    if (!closed) spill(inFlight);
                    inFlight = null;
                }
                try {
                    pause(backoff(++failures));
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * Tops the batch up from the queue, waiting up to {@code scrna.linger} for more events: a task's events arrive
     * within milliseconds of each other, and one request for several costs the API (and the cores it shares with
     * Nextflow) far less than one request each. Not while flushing at the end of the run.
     */
    private void fill(List<String> batch) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(cfg.lingerMs);
        while (batch.size() < cfg.batchSize) {
            queue.drainTo(batch, cfg.batchSize - batch.size());
            long left = until - System.nanoTime();
            if (batch.size() >= cfg.batchSize || left <= 0 || flushing) return;
            String next = queue.poll(left, TimeUnit.NANOSECONDS);
            if (next == null) return;
            batch.add(next);
        }
    }

    private Outcome postWithRetries(List<String> batch) throws InterruptedException {
        for (int attempt = 0; ; attempt++) {
            Outcome o = post(batch);
            if (o != Outcome.FAILED || attempt >= cfg.maxRetries || isClosed()) return o;
            pause(backoff(attempt + 1));
        }
    }

    private Outcome post(List<String> batch) throws InterruptedException {
        HttpRequest.Builder req = HttpRequest.newBuilder(cfg.endpoint)
                .timeout(Duration.ofMillis(cfg.readTimeoutMs))
                .header("Content-Type", "application/json")
                .header("User-Agent", "nf-scrna/" + VERSION)
                .POST(HttpRequest.BodyPublishers.ofString("[" + String.join(",", batch) + "]"));
        if (cfg.token != null) req.header("Authorization", "Bearer " + cfg.token);
        String problem;
        try {
            HttpResponse<String> r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
            int status = r.statusCode();
            if (status >= 200 && status < 300) {
                if (down) log.info("nf-scrna: {} reachable again, delivering queued events", cfg.endpoint);
                down = false;
                return Outcome.OK;
            }
            if (status == 413 && batch.size() > 1) {
                // Too large for the API's body limit: send it in halves.
                int mid = batch.size() / 2;
                Outcome first = post(batch.subList(0, mid));
                return first == Outcome.FAILED ? first : worse(first, post(batch.subList(mid, batch.size())));
            }
            if (status == 400 || status == 413 || status == 422) {
                // Retrying cannot fix a request the API calls malformed; keep going with the rest.
                log.warn("nf-scrna: {} rejected {} events (HTTP {}): {}", cfg.endpoint, batch.size(), status, abbreviate(r.body()));
                return Outcome.REJECTED;
            }
            problem = "HTTP " + status + (status == 401 || status == 403 ? " (check scrna.token / SCRNA_API_TOKEN)" : "");
        } catch (IOException e) {
            problem = e.toString();
        }
        if (!down)
            log.warn("nf-scrna: cannot deliver events to {} ({}); retrying, and keeping them in {} meanwhile", cfg.endpoint, problem, cfg.spoolFile);
        else
            log.debug("nf-scrna: delivery failed again: {}", problem);
        down = true;
        return Outcome.FAILED;
    }

    private static Outcome worse(Outcome a, Outcome b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    /** Exponential backoff with equal jitter: half the step fixed, half random, so senders do not retry in lock step. */
    private long backoff(int failures) {
        long step = Math.min(flushing ? FLUSH_MAX_BACKOFF_MS : MAX_BACKOFF_MS, BASE_BACKOFF_MS << Math.min(failures - 1, 16));
        return step / 2 + ThreadLocalRandom.current().nextLong(step / 2 + 1);
    }

    private void pause(long ms) throws InterruptedException {
        synchronized (wake) {
            if (!flushing || ms <= FLUSH_MAX_BACKOFF_MS) wake.wait(ms);
            else wake.wait(FLUSH_MAX_BACKOFF_MS);
        }
    }

    /** Caller holds {@code lock}. */
    private void spill(List<String> lines) {
        if (lines == null || lines.isEmpty()) return;
        try {
            spool.append(lines);
            settled.addAndGet(lines.size());
        } catch (IOException e) {
            log.error("nf-scrna: cannot write spool file {} -- {} events lost: {}", cfg.spoolFile, lines.size(), e.toString());
            settled.addAndGet(lines.size());
        }
    }

    private boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }

    private boolean idle() {
        return settled.get() >= emitted && !spool.hasPending();
    }

    /**
     * Waits at most {@code scrna.flushTimeout} for everything to be delivered, then stops the sender and moves whatever is
     * still queued or in flight to the spool (a batch in flight may arrive twice: the API dedupes by run and seq).
     */
    void flushAndClose() {
        long deadline = System.currentTimeMillis() + cfg.flushTimeoutMs;
        flushing = true;
        synchronized (wake) {
            wake.notifyAll();
        }
        try {
            while (!idle() && System.currentTimeMillis() < deadline) Thread.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (lock) {
            closed = true;
            spill(inFlight);
            List<String> backlog = new ArrayList<>();
            queue.drainTo(backlog);
            spill(backlog);
        }
        thread.interrupt();
        try {
            thread.join(1_000);
            spool.compact();
            int pending = spool.pendingCount();
            if (pending > 0)
                log.warn("nf-scrna: {} of {} events were not delivered to {} within {} ms; they are kept in {} -- send them with: scrna events replay {}",
                        pending, emitted, cfg.endpoint, cfg.flushTimeoutMs, spool.file, spool.file);
            else
                log.debug("nf-scrna: delivered {} events to {}", deliveredCount.get(), cfg.endpoint);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            log.warn("nf-scrna: cannot tidy spool file {}: {}", spool.file, e.toString());
        }
    }

    private static String abbreviate(String s) {
        return s == null ? "" : s.length() > 300 ? s.substring(0, 300) + "..." : s;
    }
}
