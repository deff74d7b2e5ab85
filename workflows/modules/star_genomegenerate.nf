// STAR index from FASTA + GTF; genomeSAindexNbases follows STAR's min(14, log2(genome length)/2 - 1) rule.
// Inputs are staged under fixed names (plain or gzip), so user file names never become script text.
process STAR_GENOMEGENERATE {
    tag "${fasta.name}"
    label 'process_star'
    label 'process_high'

    input:
    path fasta, stageAs: 'genome.in'
    path gtf, stageAs: 'genes.in'

    output:
    path 'star_index', emit: index
    tuple val("${task.process}"), val("${task.container ?: ''}"), path('versions.yml'), emit: versions // container: none locally

    script:
    """
    gzip -cdf < genome.in > ref_genome.fa
    gzip -cdf < genes.in > ref_genes.gtf
    nbases=\$(grep -v "^>" ref_genome.fa | tr -d '\\n' | wc -c | awk '{ n = int(log(\$1) / log(2) / 2 - 1); print (n > 14 ? 14 : (n < 4 ? 4 : n)) }')
    mkdir star_index
    STAR --runMode genomeGenerate --runThreadN ${task.cpus} --genomeDir star_index --genomeFastaFiles ref_genome.fa \\
        --sjdbGTFfile ref_genes.gtf --sjdbOverhang 100 --genomeSAindexNbases \$nbases --outFileNamePrefix star_index/
    rm ref_genome.fa ref_genes.gtf
    versions.py --process '${task.process}' --tool star=\$(STAR --version)
    """

    stub:
    """
    mkdir star_index && touch star_index/SA
    versions.py --process '${task.process}' --tool star=\$(STAR --version)
    """
}
