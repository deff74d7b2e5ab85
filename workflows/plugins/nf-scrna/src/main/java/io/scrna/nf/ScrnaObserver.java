package io.scrna.nf;

import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import nextflow.Session;
import nextflow.processor.TaskHandler;
import nextflow.processor.TaskProcessor;
import nextflow.processor.TaskRun;
import nextflow.trace.TraceObserver;
import nextflow.trace.TraceRecord;

/**
 * Maps Nextflow's callbacks to nf-weblog's events (started, process_submitted, process_started, process_completed,
 * error, completed) plus process_cached, each with seq, an ISO-8601 timestamp and the platform's run id.
 */
final class ScrnaObserver implements TraceObserver {
    private static final DateTimeFormatter UTC_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

    private final ScrnaConfig config;
    private final EventSender sender;
    private Session session;

    ScrnaObserver(ScrnaConfig config) {
        this.config = config;
        this.sender = new EventSender(config);
    }

    @Override
    public void onFlowCreate(Session session) {
        this.session = session;
        sender.start();
        sender.emit(withMetadata(event("started")));
    }

    @Override
    public void onFlowBegin() {}

    @Override
    public void onProcessCreate(TaskProcessor process) {}

    @Override
    public void onProcessTerminate(TaskProcessor process) {}

    @Override
    public void onProcessPending(TaskHandler handler, TraceRecord trace) {}

    @Override
    public void onProcessSubmit(TaskHandler handler, TraceRecord trace) {
        sender.emit(withStatus(withTrace(event("process_submitted"), handler, trace), "SUBMITTED"));
    }

    @Override
    public void onProcessStart(TaskHandler handler, TraceRecord trace) {
        sender.emit(withStatus(withTrace(event("process_started"), handler, trace), "RUNNING"));
    }

    @Override
    public void onProcessComplete(TaskHandler handler, TraceRecord trace) {
        sender.emit(withTrace(event("process_completed"), handler, trace));
    }

    @Override
    public void onProcessCached(TaskHandler handler, TraceRecord trace) {
        sender.emit(withStatus(withTrace(event("process_cached"), handler, trace), "CACHED"));
    }

    /**
     * The record is shared with Nextflow's monitor thread, which may already have moved it on (a submitted task
     * can be RUNNING by the time it is copied), so each event states the status it reports.
     */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> withStatus(Map<String, Object> e, String status) {
        ((Map<String, Object>) e.get("trace")).put("status", status);
        return e;
    }

    @Override
    public boolean enableMetrics() {
        return false;
    }

    @Override
    public void onFlowError(TaskHandler handler, TraceRecord trace) {
        Map<String, Object> e = event("error");
        // Like nf-weblog: the failing task's trace when there is one, nothing when the run aborts.
        if (handler != null || trace != null) withTrace(e, handler, trace);
        sender.emit(e);
    }

    @Override
    public void onWorkflowPublish(Object value) {}

    @Override
    public void onFilePublish(Path destination) {}

    @Override
    public void onFilePublish(Path destination, Path source) {}

    @Override
    public void onFlowComplete() {
        sender.emit(withMetadata(event("completed")));
        sender.flushAndClose();
    }

    private Map<String, Object> event(String name) {
        Instant now = Instant.now();
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("seq", null); // set by the sender, kept first for readability of the spool
        e.put("event", name);
        e.put("runName", session.getRunName());
        e.put("runId", String.valueOf(session.getUniqueId()));
        e.put("utcTime", UTC_TIME.format(now));
        e.put("timestamp", Json.iso(now));
        if (config.platformRunId != null) e.put("platformRunId", config.platformRunId);
        return e;
    }

    private Map<String, Object> withMetadata(Map<String, Object> e) {
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("parameters", Json.plain(session.getParams(), 0));
        metadata.put("workflow", Json.plain(session.getWorkflowMetadata(), 0));
        e.put("metadata", metadata);
        return e;
    }

    /** The trace record's raw store (typed values, as nf-weblog sends it); for storeDir hits, which have none, the task's identity. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> withTrace(Map<String, Object> e, TaskHandler handler, TraceRecord trace) {
        Map<String, Object> t;
        if (trace != null) {
            t = (Map<String, Object>) Json.plain(trace.getStore(), 0);
        } else {
            t = new LinkedHashMap<>();
            TaskRun task = handler == null ? null : handler.getTask();
            if (task != null) {
                t.put("task_id", Json.plain(task.getId(), 0));
                t.put("name", task.getName());
                t.put("process", task.getProcessor() == null ? null : task.getProcessor().getName());
                t.put("hash", task.getHashLog());
            }
        }
        e.put("trace", t);
        return e;
    }
}
