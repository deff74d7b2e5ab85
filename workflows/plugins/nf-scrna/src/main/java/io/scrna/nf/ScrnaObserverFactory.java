package io.scrna.nf;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import nextflow.Session;
import nextflow.trace.TraceObserver;
import nextflow.trace.TraceObserverFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Listed in META-INF/extensions.idx; returns no observer (the plugin is inert) unless a URL is configured. */
public class ScrnaObserverFactory implements TraceObserverFactory {
    private static final Logger log = LoggerFactory.getLogger(ScrnaPlugin.LOGGER);

    @Override
    public Collection<TraceObserver> create(Session session) {
        Map<?, ?> scope = session.getConfig() == null ? null : (Map<?, ?>) session.getConfig().get("scrna");
        Path launchDir = session.getWorkflowMetadata() != null && session.getWorkflowMetadata().getLaunchDir() != null
                ? session.getWorkflowMetadata().getLaunchDir()
                : Paths.get("").toAbsolutePath();
        ScrnaConfig config;
        try {
            config = ScrnaConfig.from(scope, System.getenv(), launchDir);
        } catch (RuntimeException e) {
            // A reporting misconfiguration must not cost the user their run.
            log.warn("nf-scrna: not reporting events -- {}", e.getMessage());
            return List.of();
        }
        if (!config.active()) {
            log.debug("nf-scrna: inactive ({})", config.enabled ? "no scrna.url / SCRNA_API_URL" : "scrna.enabled = false");
            return List.of();
        }
        log.debug("nf-scrna: reporting to {} (batch {}, flush {} ms, spool {})",
                config.endpoint, config.batchSize, config.flushTimeoutMs, config.spoolFile);
        return List.of(new ScrnaObserver(config));
    }
}
