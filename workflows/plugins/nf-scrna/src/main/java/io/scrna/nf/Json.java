package io.scrna.nf;

import groovy.json.JsonOutput;
import java.beans.IntrospectionException;
import java.beans.Introspector;
import java.beans.PropertyDescriptor;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import nextflow.util.Duration;
import nextflow.util.MemoryUnit;

/**
 * Turns Nextflow's objects into plain JSON values before serialising. Groovy's JSON generator would explode
 * OffsetDateTime into hundreds of fields (what nf-weblog sends); here dates become ISO-8601 strings,
 * durations milliseconds, sizes bytes and paths strings (URIs off the default file system, e.g. s3://).
 */
final class Json {
    private static final int MAX_DEPTH = 6;
    private static final DateTimeFormatter ISO_MS = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private Json() {}

    static String write(Object value) {
        return JsonOutput.toJson(plain(value, 0));
    }

    static String iso(Instant instant) {
        return ISO_MS.format(instant);
    }

    static Object plain(Object v, int depth) {
        if (v == null || v instanceof String || v instanceof Boolean) return v;
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            return Double.isFinite(d) ? v : null;
        }
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte
                || v instanceof BigDecimal || v instanceof BigInteger) return v;
        if (v instanceof Number) return ((Number) v).longValue(); // e.g. TaskId
        if (v instanceof CharSequence || v instanceof Enum || v instanceof Character) return v.toString();
        if (v instanceof OffsetDateTime) return iso(((OffsetDateTime) v).toInstant());
        if (v instanceof ZonedDateTime) return iso(((ZonedDateTime) v).toInstant());
        if (v instanceof Instant) return iso((Instant) v);
        if (v instanceof Date) return iso(((Date) v).toInstant());
        if (v instanceof Duration) return ((Duration) v).toMillis();
        if (v instanceof MemoryUnit) return ((MemoryUnit) v).toBytes();
        if (v instanceof Path) {
            Path p = (Path) v;
            return p.getFileSystem() == FileSystems.getDefault() ? p.toString() : p.toUri().toString();
        }
        if (depth >= MAX_DEPTH) return v.toString();
        if (v instanceof Map) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet())
                out.put(String.valueOf(e.getKey()), plain(e.getValue(), depth + 1));
            return out;
        }
        if (v instanceof Iterable) {
            List<Object> out = new ArrayList<>();
            for (Object o : (Iterable<?>) v) out.add(plain(o, depth + 1));
            return out;
        }
        if (v.getClass().isArray()) {
            List<Object> out = new ArrayList<>();
            for (int i = 0; i < Array.getLength(v); i++) out.add(plain(Array.get(v, i), depth + 1));
            return out;
        }
        String pkg = v.getClass().getPackageName();
        if (pkg.startsWith("java.") || pkg.startsWith("javax.") || pkg.startsWith("sun.") || pkg.startsWith("groovy."))
            return v.toString();
        return bean(v, depth);
    }

    /** Nextflow beans (WorkflowMetadata, NextflowMeta, WorkflowStats, ...): their own map form when they have one, else getters. */
    private static Object bean(Object v, int depth) {
        for (String name : new String[] {"toJsonMap", "toMap"}) {
            try {
                Method m = v.getClass().getMethod(name);
                if (Map.class.isAssignableFrom(m.getReturnType())) return plain(m.invoke(v), depth);
            } catch (NoSuchMethodException e) {
                // try the next form
            } catch (ReflectiveOperationException | RuntimeException e) {
                return v.toString();
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        try {
            for (PropertyDescriptor p : Introspector.getBeanInfo(v.getClass(), Object.class).getPropertyDescriptors()) {
                Method getter = p.getReadMethod();
                if (getter == null || p.getName().equals("metaClass") || getter.getParameterCount() > 0) continue;
                try {
                    out.put(p.getName(), plain(getter.invoke(v), depth + 1));
                } catch (ReflectiveOperationException | RuntimeException e) {
                    out.put(p.getName(), null);
                }
            }
        } catch (IntrospectionException e) {
            return v.toString();
        }
        return out;
    }
}
