package io.scrna.nf;

import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import nextflow.util.Duration;

/** The `scrna { }` config scope, with environment fallbacks for what the platform injects when it launches a run. */
final class ScrnaConfig {
    static final String EVENTS_PATH = "/api/v1/events";

    final boolean enabled;
    final URI endpoint;
    final String token;
    final String platformRunId;
    final int batchSize;
    final long lingerMs;
    final long flushTimeoutMs;
    final long connectTimeoutMs;
    final long readTimeoutMs;
    final int maxRetries;
    final int queueSize;
    final Path spoolFile;

    private ScrnaConfig(Map<?, ?> scope, Map<String, String> env, Path launchDir) {
        enabled = bool(scope.get("enabled"), true);
        String url = str(scope.get("url"), env.get("SCRNA_API_URL"));
        endpoint = url == null ? null : endpointOf(url);
        token = str(scope.get("token"), env.get("SCRNA_API_TOKEN"));
        platformRunId = str(scope.get("runId"), env.get("SCRNA_RUN_ID"));
        batchSize = Math.max(1, integer(scope.get("batchSize"), 100));
        lingerMs = Math.max(0, millis(scope.get("linger"), 50));
        flushTimeoutMs = millis(scope.get("flushTimeout"), 5_000);
        connectTimeoutMs = Math.max(1, millis(scope.get("connectTimeout"), 2_000));
        readTimeoutMs = Math.max(1, millis(scope.get("readTimeout"), 10_000));
        maxRetries = Math.max(0, integer(scope.get("maxRetries"), 3));
        queueSize = Math.max(1, integer(scope.get("queueSize"), 10_000));
        String spool = str(scope.get("spoolFile"), null);
        spoolFile = launchDir.resolve(spool == null ? ".scrna-events.jsonl" : spool).toAbsolutePath().normalize();
    }

    static ScrnaConfig from(Map<?, ?> scope, Map<String, String> env, Path launchDir) {
        return new ScrnaConfig(scope == null ? Map.of() : scope, env, launchDir);
    }

    boolean active() {
        return enabled && endpoint != null;
    }

    /** `url` is the platform's base URL (SCRNA_PUBLIC_URL); a full events URL is taken as is. */
    static URI endpointOf(String url) {
        String u = url.trim().replaceAll("/+$", "");
        if (!u.startsWith("http://") && !u.startsWith("https://"))
            throw new IllegalArgumentException("nf-scrna: scrna.url must be an http(s) URL: " + url);
        return URI.create(u.endsWith(EVENTS_PATH) ? u : u + EVENTS_PATH);
    }

    private static String str(Object value, String fallback) {
        String s = value == null ? null : value.toString().trim();
        if (s != null && !s.isEmpty()) return s;
        return fallback == null || fallback.isBlank() ? null : fallback.trim();
    }

    private static boolean bool(Object value, boolean fallback) {
        if (value instanceof Boolean) return (Boolean) value;
        return value == null ? fallback : Boolean.parseBoolean(value.toString().trim());
    }

    private static int integer(Object value, int fallback) {
        if (value instanceof Number) return ((Number) value).intValue();
        return value == null ? fallback : Integer.parseInt(value.toString().trim());
    }

    /** Accepts a Duration, a number of milliseconds, or a Nextflow duration string ('5s', '1 min'). */
    private static long millis(Object value, long fallback) {
        if (value == null) return fallback;
        if (value instanceof Duration) return ((Duration) value).toMillis();
        if (value instanceof Number) return ((Number) value).longValue();
        return Duration.of(value.toString().trim()).toMillis();
    }
}
