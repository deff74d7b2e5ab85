// cdk-nag suppressions: one table, each entry naming the rule, where it applies, which finding, and why.
// acknowledgeFindings() runs the packs, acknowledges (Validations.of(...).acknowledge) every finding an entry
// covers, and leaves the rest, so anything not explained here still fails synthesis and the tests.
import { type App, type IPolicyValidationPlugin, type PolicyValidationPluginReport, Validations } from 'aws-cdk-lib';
import type { NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export interface Suppression {
  /** Rule id without the finding, e.g. AwsSolutions-IAM5. */
  rule: string;
  /** Construct path the finding is on, with the stack name's "<config name>-" prefix replaced by "/". */
  path: RegExp;
  /** For rules with findings (IAM4/IAM5): the text between the brackets. */
  finding?: RegExp;
  reason: string;
}

const BUCKET_OBJECTS = /^Resource::.*(Raw|Work|Results)[0-9A-F]+Arn[0-9A-F]+\/(runs\/)?\*$/;
const ROLES_WITH_GRANTS =
  /^\/(api\/TaskRole|batch\/(HeadJobRole|TaskJobRole)|triggers\/UploadTrigger\/ServiceRole)\/DefaultPolicy\/Resource$/;

export const SUPPRESSIONS: Suppression[] = [
  // --- IAM: wildcards that are the narrowest form AWS offers -------------------------------------------------
  {
    rule: 'AwsSolutions-IAM5',
    path: ROLES_WITH_GRANTS,
    finding: BUCKET_OBJECTS,
    reason:
      'Object actions on the platform buckets: "<bucket ARN>/*" names only objects of that bucket; object keys are not known in advance.',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: ROLES_WITH_GRANTS,
    finding: /^Action::(s3:(GetObject|GetBucket|List|DeleteObject|Abort)\*|kms:(GenerateDataKey|ReEncrypt)\*)$/,
    reason:
      "Action groups from CDK's bucket/key grant helpers (grantRead/grantReadWrite); every statement is scoped to one platform bucket or its KMS key.",
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/(api\/TaskRole|batch\/HeadJobRole)\/DefaultPolicy\/Resource$/,
    finding: /^Resource::\*$/,
    reason:
      'batch:DescribeJobs/ListJobs/DescribeJobQueues/DescribeJobDefinitions/DescribeComputeEnvironments, ecs:Describe* and ec2:Describe* support no resource-level permissions; AWS requires "*" (statement "DescribeBatch"/"DescribeJobs").',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/(api\/TaskRole|batch\/HeadJobRole)\/DefaultPolicy\/Resource$/,
    finding: /^Resource::arn:aws:batch:[a-z0-9-]+:\d{12}:job\/\*$/,
    reason:
      'Cancel/terminate jobs: Batch job ids are generated at submit time; the ARN pattern limits this to jobs of this account and region.',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/batch\/HeadJobRole\/DefaultPolicy\/Resource$/,
    finding: /^Resource::arn:aws:batch:[a-z0-9-]+:\d{12}:job-definition\/nf-\*$/,
    reason: 'Nextflow registers one job definition per container image, named nf-<image>; the pattern allows only those names.',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/api\/TaskRole\/DefaultPolicy\/Resource$/,
    finding: /^Resource::arn:aws:batch:.*job-definition\/.*:\*$/,
    reason:
      'Submitting the head-node job definition by name resolves to its latest revision; ":*" covers revisions of that one definition only.',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/(api\/TaskRole|batch\/HeadJobRole)\/DefaultPolicy\/Resource$/,
    finding: /^Resource::.*JobLogs[0-9A-F]+.*:log-stream:\*$/,
    reason: 'Reading task logs: stream names are created by Batch per job; the pattern is limited to the platform Batch log group.',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/(api\/(Task|MigrationTask)|batch)\/ExecutionRole\/DefaultPolicy\/Resource$/,
    finding: /^Resource::\*$/,
    reason:
      'ecr:GetAuthorizationToken (added by CDK for ECR images) supports no resource-level permissions; AWS requires "*". Image pulls are scoped to the repository.',
  },
  // --- IAM: AWS managed policies for service plumbing -------------------------------------------------------
  {
    rule: 'AwsSolutions-IAM4',
    path: /^\/batch\/InstanceRole\/Resource$/,
    finding: /AmazonEC2ContainerServiceforEC2Role$/,
    reason:
      'The AWS-maintained ECS agent policy for Batch container instances; it follows the agent as AWS changes it. Data access is on the job roles, not here.',
  },
  {
    rule: 'AwsSolutions-IAM4',
    path: /^\/database\/Postgres\/MonitoringRole\/Resource$/,
    finding: /AmazonRDSEnhancedMonitoringRole$/,
    reason: 'RDS Enhanced Monitoring requires this AWS-maintained policy.',
  },
  {
    rule: 'AwsSolutions-IAM4',
    path: /^\/triggers\/UploadTrigger\/ServiceRole\/Resource$/,
    finding: /AWSLambda(BasicExecutionRole|VPCAccessExecutionRole)$/,
    reason:
      'AWS-maintained Lambda policies for log delivery and VPC network interfaces (ec2:CreateNetworkInterface has no resource scoping).',
  },
  {
    rule: 'HIPAA.Security-IAMNoInlinePolicy',
    path: /\/DefaultPolicy\/Resource$/,
    reason:
      'Least-privilege policies generated per role from its grants; each is attached to exactly one role, so a managed policy would add no reuse and the same scope.',
  },
  // --- Network -----------------------------------------------------------------------------------------------
  {
    rule: 'AwsSolutions-VPC3',
    path: /^\/network\/IsolatedAcl(\/.*)?$/,
    reason:
      'The issue asks for network ACLs as defence in depth: the isolated (database) subnets accept only PostgreSQL and replies from the VPC.',
  },
  {
    rule: 'HIPAA.Security-VPCNoUnrestrictedRouteToIGW',
    path: /^\/network\/Vpc\/publicSubnet\d\/DefaultRoute$/,
    reason:
      'Public subnets hold only the load balancer and the NAT gateways, which need the default route to the internet gateway; nothing else is placed there.',
  },
  // --- Database ----------------------------------------------------------------------------------------------
  {
    rule: 'AwsSolutions-RDS11',
    path: /^\/database\/Postgres\/Resource$/,
    reason:
      'A non-default port is obscurity, not protection: the database is in isolated subnets and admits only the API/migration security group.',
  },
  {
    rule: 'HIPAA.Security-RDSInBackupPlan',
    path: /^\/database\/Postgres\/Resource$/,
    reason:
      'RDS automated backups with point-in-time recovery (database.backupRetentionDays) and snapshot-on-delete protect the data; AWS Backup would duplicate them.',
  },
  // --- Storage -----------------------------------------------------------------------------------------------
  {
    rule: 'HIPAA.Security-S3BucketReplicationEnabled',
    path: /^\/storage\/(AccessLogs|Raw|Work|Results)\/Resource$/,
    reason:
      'Single-region deployment by design (data residency); versioning and retain-on-delete protect against loss. Operators who need a second region add replication.',
  },
  {
    rule: 'HIPAA.Security-S3DefaultEncryptionKMS',
    path: /^\/storage\/AccessLogs\/Resource$/,
    reason: 'S3 server access logs and ALB access logs can only be delivered to buckets encrypted with SSE-S3, not SSE-KMS.',
  },
  // --- API -----------------------------------------------------------------------------------------------------
  {
    rule: 'AwsSolutions-ECS2',
    path: /^\/api\/(Task|MigrationTask)\/Resource$/,
    reason:
      'Only non-secret settings (queue, bucket and log group names, port) are plain environment variables; credentials come from Secrets Manager.',
  },
  {
    rule: 'HIPAA.Security-ELBv2ACMCertificateRequired',
    path: /^\/api\/Alb\/Redirect\/Resource$/,
    reason: 'Port 80 listener only answers with a permanent redirect to the HTTPS listener, which uses the ACM certificate.',
  },
  {
    rule: 'AwsSolutions-SMG4',
    path: /^\/api\/AdminToken\/Resource$/,
    reason:
      'Bootstrap API token: replacing it needs the API to accept the new value, so it is rotated by the operator (README) rather than by a rotation Lambda.',
  },
  {
    rule: 'HIPAA.Security-SecretsManagerRotationEnabled',
    path: /^\/api\/AdminToken\/Resource$/,
    reason:
      'Bootstrap API token: replacing it needs the API to accept the new value, so it is rotated by the operator (README) rather than by a rotation Lambda.',
  },
];

function splitRule(name: string): { rule: string; finding?: string } {
  const m = /^([^[]+)\[(.*)\]$/.exec(name);
  return m ? { rule: m[1]!, finding: m[2]! } : { rule: name };
}

export interface Acknowledged {
  ruleName: string;
  path: string;
  reason: string;
}

/**
 * Acknowledges every current finding that an entry of `table` covers; returns what was acknowledged.
 * Run it after the app is prepared (synthesized): cross-stack references only then take the form
 * (Fn::ImportValue) that cdk-nag puts into the finding ids it later checks.
 */
export function acknowledgeFindings(app: App, packs: NagPack[], stackPrefix: string, table = SUPPRESSIONS): Acknowledged[] {
  const done: Acknowledged[] = [];
  const byPath = new Map<string, IConstruct>(app.node.findAll().map((c) => [c.node.path, c]));
  for (const pack of packs) {
    for (const violation of pack.validateScope(app).violations) {
      const { rule, finding } = splitRule(violation.ruleName);
      for (const { constructPath: path } of violation.violatingResources) {
        if (!path) continue;
        const relative = path.startsWith(`${stackPrefix}-`) ? `/${path.slice(stackPrefix.length + 1)}` : path;
        const entry = table.find(
          (s) =>
            s.rule === rule &&
            s.path.test(relative) &&
            (s.finding === undefined ? finding === undefined : finding !== undefined && s.finding.test(finding)),
        );
        const construct = entry && byPath.get(path);
        if (!entry || !construct) continue;
        Validations.of(construct).acknowledge({ id: violation.ruleName, reason: entry.reason });
        done.push({ ruleName: violation.ruleName, path, reason: entry.reason });
      }
    }
  }
  return done;
}

/**
 * Runs first among the validation plugins of `cdk synth` (after the app is prepared) and acknowledges the
 * findings the table covers, so the cdk-nag packs that run after it report only unexplained findings.
 */
export class SuppressionTable implements IPolicyValidationPlugin {
  readonly name = 'scrna-nag-suppressions';
  acknowledged: Acknowledged[] = [];

  constructor(
    private readonly app: App,
    private readonly packs: NagPack[],
    private readonly stackPrefix: string,
  ) {}

  validate(): PolicyValidationPluginReport {
    this.acknowledged = acknowledgeFindings(this.app, this.packs, this.stackPrefix);
    return { success: true, violations: [] };
  }
}
