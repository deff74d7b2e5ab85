import groovy.json.JsonSlurper
import java.util.regex.Pattern

/**
 * The subset of JSON Schema 2020-12 our three schemas use (nextflow_schema.json, assets/schema_input*.json,
 * assets/manifest.schema.json). The nf-schema plugin cannot be installed offline, and the head node has no
 * Python, so the workflow validates with this before any task starts. Unknown annotation keywords
 * (help_text, fa_icon, hidden, mimetype, schema) are ignored, as in any validator.
 */
class JsonSchema {
    final Map root

    JsonSchema(Map root) { this.root = root }

    static JsonSchema load(def path) {
        new JsonSchema((Map) new JsonSlurper().parseText(path.text))
    }

    /** Errors as [path, message]; an empty list means valid. */
    List<List<String>> validate(Object value) {
        List<List<String>> errors = []
        check(root, value, '', errors)
        errors
    }

    private Map resolve(Map s) {
        if (!s.containsKey('$ref')) return s
        def ref = s['$ref'] as String
        if (!ref.startsWith('#/')) throw new IllegalArgumentException("unsupported \$ref ${ref}")
        def target = root
        ref.substring(2).split('/').each { target = target[it] }
        target as Map
    }

    static String typeOf(Object v) {
        if (v == null) return 'null'
        if (v instanceof Boolean) return 'boolean'
        if (v instanceof Integer || v instanceof Long || v instanceof BigInteger) return 'integer'
        if (v instanceof Number) return (v as BigDecimal).stripTrailingZeros().scale() <= 0 ? 'integer' : 'number'
        if (v instanceof CharSequence) return 'string'
        if (v instanceof Map) return 'object'
        if (v instanceof List) return 'array'
        'unknown'
    }

    private static boolean isType(Object v, String t) {
        def actual = typeOf(v)
        actual == t || (t == 'number' && actual == 'integer')
    }

    static String show(Object v) {
        v instanceof CharSequence ? "'${v}'" : String.valueOf(v)
    }

    private void check(Object schema0, Object v, String path, List<List<String>> errors) {
        if (schema0 == false) { errors << [path, 'is not allowed here']; return }
        if (schema0 == true) return
        Map s = resolve(schema0 as Map)
        s.allOf?.each { check(it, v, path, errors) }
        if (s.type) {
            def types = s.type instanceof List ? s.type : [s.type]
            if (!types.any { isType(v, it as String) }) {
                errors << [path, "expected ${types.join(' or ')}, got ${typeOf(v)} ${show(v)}".toString()]
                return
            }
        }
        if (s.containsKey('enum') && !(s.enum as List).any { it == v || (it instanceof Number && v instanceof Number && (it as BigDecimal) == (v as BigDecimal)) }) {
            errors << [path, "expected one of ${(s.enum as List).join(', ')}, got ${show(v)}".toString()]
        }
        if (s.containsKey('const') && s.const != v) errors << [path, "expected ${show(s.const)}, got ${show(v)}".toString()]
        if (v instanceof CharSequence) {
            if (s.pattern && !ecmaPattern(s.pattern as String).matcher(v).find()) {
                errors << [path, "${show(v)} does not match ${s.pattern}".toString()]
            }
            if (s.minLength != null && v.length() < (s.minLength as int)) errors << [path, "shorter than ${s.minLength} characters".toString()]
        }
        if (v instanceof Number) {
            def n = v as BigDecimal
            if (s.minimum != null && n < (s.minimum as BigDecimal)) errors << [path, "expected >= ${s.minimum}, got ${v}".toString()]
            if (s.maximum != null && n > (s.maximum as BigDecimal)) errors << [path, "expected <= ${s.maximum}, got ${v}".toString()]
            if (s.exclusiveMinimum != null && n <= (s.exclusiveMinimum as BigDecimal)) errors << [path, "expected > ${s.exclusiveMinimum}, got ${v}".toString()]
        }
        if (v instanceof Map) {
            (s.required as List)?.each { if (!v.containsKey(it)) errors << [join(path, it as String), 'is required'] }
            (s.dependentRequired as Map)?.each { k, needs ->
                if (v[k] != null) (needs as List).each { if (v[it] == null) errors << [join(path, it as String), "is required when ${k} is given".toString()] }
            }
            (s.properties as Map)?.each { k, sub -> if (v.containsKey(k)) check(sub, v[k], join(path, k as String), errors) }
            if (s.additionalProperties == false) {
                v.keySet().findAll { !(s.properties as Map)?.containsKey(it) }.each { errors << [join(path, it as String), 'is not an allowed property'] }
            }
        }
        if (v instanceof List) {
            if (s.minItems != null && v.size() < (s.minItems as int)) errors << [path, "expected at least ${s.minItems} item(s), got ${v.size()}".toString()]
            if (s.items instanceof Map) v.eachWithIndex { item, i -> check(s.items, item, "${path}[${i}]".toString(), errors) }
        }
        if (s.oneOf) {
            def passing = (s.oneOf as List).findAll { sub -> List<List<String>> e = []; check(sub, v, path, e); e.isEmpty() }
            if (passing.size() != 1) errors << [path, "must match exactly one of ${s.oneOf.size()} alternatives".toString()]
        }
        if (s.anyOf && !(s.anyOf as List).any { sub -> List<List<String>> e = []; check(sub, v, path, e); e.isEmpty() }) {
            errors << [path, 'must match at least one alternative']
        }
        if (s.not) {
            List<List<String>> e = []
            check(s.not, v, path, e)
            if (e.isEmpty()) errors << [path, 'matches a forbidden alternative']
        }
    }

    private static final Map<String, Pattern> PATTERNS = [:].asSynchronized()

    /**
     * JSON Schema patterns are ECMAScript regular expressions, where `$` (without the m flag) matches only at the very
     * end; Java's `$` also matches before a final line break, so 'MT-\n' would pass '^[A-Z-]+$'. Anchors become `\z`.
     */
    static Pattern ecmaPattern(String ecma) {
        PATTERNS.computeIfAbsent(ecma) {
            def out = new StringBuilder()
            boolean inClass = false
            for (int i = 0; i < ecma.length(); i++) {
                char c = ecma.charAt(i)
                if (c == '\\' as char && i + 1 < ecma.length()) { out << c << ecma.charAt(++i); continue }
                if (c == '[' as char) inClass = true
                else if (c == ']' as char) inClass = false
                out << (c == '$' as char && !inClass ? '\\z' : c)
            }
            Pattern.compile(out.toString())
        }
    }

    private static String join(String path, String key) { path ? "${path}.${key}" : key }
}
