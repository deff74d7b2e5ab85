// cdk-nag suppressions: one table, each entry naming the rule, where it applies, which finding, and why.
// acknowledgeFindings() runs the packs, acknowledges (Validations.of(...).acknowledge) every finding an entry
// covers, and leaves the rest, so anything not explained here still fails synthesis and the tests.
import { type App, type IPolicyValidationPlugin, type PolicyValidationPluginReport, Stack, Validations } from 'aws-cdk-lib';
import type { NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export interface Suppression {
  /** Rule id without the finding, e.g. AwsSolutions-IAM5. */
  rule: string;
  /** Construct path the finding is on, with the stack name's "<config name>-" prefix replaced by "/". */
  path: RegExp;
  /** For rules with findings (IAM4/IAM5): the text between the brackets. */
  finding?: RegExp;
  /**
   * IAM5 only: the statements the wildcard is excused in. A literal wildcard (`Resource::*`, an ARN pattern, an action
   * group) is acknowledged only while every statement of the policy that holds it matches one of these, so a new
   * statement with the same wildcard is reported. `grant`: a statement made by a CDK grant helper (no Sid, every
   * resource a reference to a platform resource, none a literal).
   */
  statements?: StatementScope[];
  reason: string;
}

export type StatementScope = { sid: string } | { actions: RegExp } | { grant: true };

const BUCKET_OBJECTS = /^Resource::.*(Raw|Work|Results)[0-9A-F]+Arn[0-9A-F]+\/(runs\/)?\*$/;
const ROLES_WITH_GRANTS =
  /^\/(api\/TaskRole|batch\/(HeadJobRole|TaskJobRole)|triggers\/UploadTrigger\/ServiceRole)\/DefaultPolicy\/Resource$/;

export const SUPPRESSIONS: Suppression[] = [
  // --- IAM: wildcards that are the narrowest form AWS offers -------------------------------------------------
  {
    rule: 'AwsSolutions-IAM5',
    path: ROLES_WITH_GRANTS,
    finding: BUCKET_OBJECTS,
    statements: [{ grant: true }],
    reason:
      'Object actions on the platform buckets: "<bucket ARN>/*" names only objects of that bucket; object keys are not known in advance.',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: ROLES_WITH_GRANTS,
    finding: /^Action::(s3:(GetObject|GetBucket|List|DeleteObject|Abort)\*|kms:(GenerateDataKey|ReEncrypt)\*)$/,
    statements: [{ grant: true }],
    reason:
      "Action groups from CDK's bucket/key grant helpers (grantRead/grantReadWrite); every statement is scoped to one platform bucket or its KMS key.",
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/(api\/TaskRole|batch\/HeadJobRole)\/DefaultPolicy\/Resource$/,
    finding: /^Resource::\*$/,
    statements: [{ sid: 'DescribeBatch' }, { sid: 'DescribeJobs' }],
    reason:
      'batch:DescribeJobs/ListJobs/DescribeJobQueues/DescribeJobDefinitions/DescribeComputeEnvironments, ecs:Describe* and ec2:Describe* support no resource-level permissions; AWS requires "*" (statement "DescribeBatch"/"DescribeJobs").',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/(api\/TaskRole|batch\/HeadJobRole)\/DefaultPolicy\/Resource$/,
    finding: /^Resource::arn:aws:batch:[a-z0-9-]+:\d{12}:job\/\*$/,
    statements: [{ sid: 'ControlTasks' }, { sid: 'CancelJobs' }],
    reason:
      'Cancel/terminate jobs: Batch job ids are generated at submit time; the ARN pattern limits this to jobs of this account and region.',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/batch\/HeadJobRole\/DefaultPolicy\/Resource$/,
    finding: /^Resource::arn:aws:batch:[a-z0-9-]+:\d{12}:job-definition\/nf-\*$/,
    statements: [{ sid: 'SubmitTasks' }],
    reason: 'Nextflow registers one job definition per container image, named nf-<image>; the pattern allows only those names.',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/api\/TaskRole\/DefaultPolicy\/Resource$/,
    finding: /^Resource::arn:aws:batch:.*job-definition\/.*:\*$/,
    statements: [{ sid: 'LaunchHeadJobs' }],
    reason:
      'Submitting the head-node job definition by name resolves to its latest revision; ":*" covers revisions of that one definition only.',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/(api\/TaskRole|batch\/HeadJobRole)\/DefaultPolicy\/Resource$/,
    finding: /^Resource::.*JobLogs[0-9A-F]+.*:log-stream:\*$/,
    statements: [{ sid: 'ReadTaskLogs' }, { sid: 'ReadJobLogs' }],
    reason: 'Reading task logs: stream names are created by Batch per job; the pattern is limited to the platform Batch log group.',
  },
  {
    rule: 'AwsSolutions-IAM5',
    path: /^\/(api\/(Task|MigrationTask)|batch)\/ExecutionRole\/DefaultPolicy\/Resource$/,
    finding: /^Resource::\*$/,
    statements: [{ actions: /^ecr:GetAuthorizationToken$/ }],
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
    path: /^\/network\/(Public|Private|Isolated)Acl(\/.*)?$/,
    reason:
      'Network ACLs on every tier are deliberate defence in depth: each admits only the platform flows (clients to the load balancer, HTTPS, API port, PostgreSQL from the private subnets) and their replies.',
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

interface Statement {
  Sid?: string;
  Action?: string | string[];
  Resource?: unknown;
}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

function matchesScope(st: Statement, scopes: StatementScope[]): boolean {
  return scopes.some((scope) => {
    if ('sid' in scope) return st.Sid === scope.sid;
    if ('actions' in scope) return asList(st.Action).every((a) => typeof a === 'string' && scope.actions.test(a));
    return st.Sid === undefined && asList(st.Resource).every((r) => typeof r !== 'string');
  });
}

/** Whether every statement of the policy on `construct` that holds `finding`'s literal wildcard is one of `scopes`. */
function excusedIn(construct: IConstruct, finding: string, scopes: StatementScope[]): boolean {
  const document = (construct as { policyDocument?: unknown }).policyDocument;
  if (!document) return false;
  const statements = asList((Stack.of(construct).resolve(document) as { Statement?: unknown }).Statement) as Statement[];
  const [kind, value] = [finding.slice(0, finding.indexOf('::')), finding.slice(finding.indexOf('::') + 2)];
  // A wildcard built from a reference (a bucket ARN + "/*") is held by statements with a reference ending that way.
  // cdk-nag renders a reference as <Id.Attr>, {...} or an export name; the literal text after it ends the Fn::Join.
  const tail = /[>}]([^>}]*)$/.exec(value)?.[1] ?? value.replace(/^[A-Za-z0-9-]+:ExportsOutput[A-Za-z0-9]+/, '');
  const lastPiece = (v: unknown) => (v as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join']?.[1].at(-1);
  const values = (st: Statement) => asList(kind === 'Action' ? st.Action : st.Resource);
  let holding = statements.filter((st) => values(st).includes(value));
  if (holding.length === 0) holding = statements.filter((st) => values(st).some((v) => typeof v !== 'string' && lastPiece(v) === tail));
  return holding.length > 0 && holding.every((st) => matchesScope(st, scopes));
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
        if (entry.statements && finding && !excusedIn(construct, finding, entry.statements)) continue;
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
