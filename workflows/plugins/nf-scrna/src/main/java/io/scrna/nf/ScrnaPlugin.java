package io.scrna.nf;

import nextflow.plugin.BasePlugin;
import org.pf4j.PluginWrapper;

/** Entry point Nextflow loads from the manifest's Plugin-Class; the work is done by {@link ScrnaObserverFactory}. */
public class ScrnaPlugin extends BasePlugin {
    /** Nextflow's console shows warnings only from loggers under its own package; ours must reach the user. */
    static final String LOGGER = "nextflow.scrna";

    public ScrnaPlugin(PluginWrapper wrapper) {
        super(wrapper);
    }
}
