// Seeded synthetic 10x v2 data with known truth (bin/make_synthetic.py): the test profile's input.
process SYNTHETIC_DATA {
    label 'process_python'

    input:
    path whitelist, stageAs: 'whitelist.txt.gz'
    val seed

    output:
    path 'synthetic/samplesheet.csv', emit: samplesheet
    path 'synthetic/genome.fa',       emit: fasta
    path 'synthetic/genes.gtf',       emit: gtf
    path 'synthetic/truth.csv',       emit: truth
    path 'synthetic/true_counts.tsv.gz', emit: true_counts
    path 'synthetic/markers.csv',     emit: markers
    path 'synthetic/fastq',           emit: fastq
    tuple val("${task.process}"), val("${task.container ?: ''}"), path('versions.yml'), emit: versions // container: none locally

    script:
    """
    make_synthetic.py --whitelist whitelist.txt.gz --outdir synthetic --seed ${seed as Long}
    versions.py --process '${task.process}' --dist numpy
    """

    stub:
    """
    mkdir -p synthetic/fastq/SYN1
    printf '>chr1\\nACGT\\n' > synthetic/genome.fa
    touch synthetic/genes.gtf synthetic/true_counts.tsv.gz
    echo 'cell_type,gene_id,gene_name' > synthetic/markers.csv
    echo 'sample,batch,barcode,is_cell,cell_type,true_umis' > synthetic/truth.csv
    for r in R1 R2; do printf '@r\\nAAAAAAAAAAAAAAAAAAAAAAAAAA\\n+\\nFFFFFFFFFFFFFFFFFFFFFFFFFF\\n' | gzip > synthetic/fastq/SYN1/SYN1_S1_L001_\${r}_001.fastq.gz; done
    printf 'sample,batch,fastqs,chemistry\\nSYN1,batchA,%s,10xv2\\n' "\$PWD/synthetic/fastq/SYN1" > synthetic/samplesheet.csv
    versions.py --process '${task.process}' --dist numpy
    """
}
