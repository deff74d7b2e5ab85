// Observability: Batch job state changes -> a log group -> metrics; alarms (failed runs, stuck queue, DLQ,
// API errors, database) to an SNS topic; one dashboard.
import { ArnFormat, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { logGroup, platformKey } from '../common.js';
import type { PlatformConfig } from '../config.js';

export interface ObservabilityStackProps extends StackProps {
  headQueueArn: string;
  taskQueueArn: string;
  loadBalancer: elbv2.ApplicationLoadBalancer;
  targetGroup: elbv2.ApplicationTargetGroup;
  service: ecs.FargateService;
  database: rds.DatabaseInstance;
  trigger: lambda.IFunction;
  deadLetterQueue: sqs.IQueue;
}

const NAMESPACE = 'scrna';
export const STUCK_QUEUE_EXPRESSION = 'IF(FILL(started, 0) > 0, 0, IF(FILL(queued, 0) > 0, 1))';

export class ObservabilityStack extends Stack {
  readonly topic: sns.Topic;
  readonly failedRuns: cw.Alarm;
  readonly stuckQueue: cw.Alarm;
  readonly dashboard: cw.Dashboard;

  constructor(scope: Construct, id: string, config: PlatformConfig, props: ObservabilityStackProps) {
    super(scope, id, props);
    const key = platformKey(this, 'Key', `${config.name} observability (events log, alarm topic)`);
    // SNS publishes from CloudWatch alarms and EventBridge need the key to encrypt messages.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // In a key policy `*` means "this key".
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    this.topic = new sns.Topic(this, 'Alarms', { topicName: `${config.name}-alarms`, masterKey: key, enforceSSL: true });
    if (config.alarms.email) this.topic.addSubscription(new subs.EmailSubscription(config.alarms.email));
    const action = new cwActions.SnsAction(this.topic);

    // Every state change of the platform's Batch jobs is kept as a log line: an audit trail and the source of the job metrics.
    const jobEvents = logGroup(this, 'BatchJobEvents', `/aws/events/${config.name}/batch-jobs`, key, config);
    new logs.CfnResourcePolicy(this, 'EventsToLogs', {
      policyName: `${config.name}-events-to-logs`,
      policyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: ['events.amazonaws.com', 'delivery.logs.amazonaws.com'] },
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: `arn:aws:logs:${this.region}:${this.account}:log-group:/aws/events/${config.name}/batch-jobs:*`,
          },
        ],
      }),
    });
    const jobEventsArn = this.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: jobEvents.logGroupName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    new events.Rule(this, 'BatchJobStateChange', {
      ruleName: `${config.name}-batch-job-state`,
      description: 'State changes of jobs in the platform queues',
      eventPattern: {
        source: ['aws.batch'],
        detailType: ['Batch Job State Change'],
        detail: { jobQueue: [props.headQueueArn, props.taskQueueArn] },
      },
      targets: [{ bind: () => ({ arn: jobEventsArn }) }],
    });

    const jobMetric = (name: string, pattern: string) => {
      new logs.MetricFilter(this, name, {
        logGroup: jobEvents,
        filterPattern: logs.FilterPattern.literal(pattern),
        metricNamespace: NAMESPACE,
        metricName: name,
        metricValue: '1',
        defaultValue: 0,
      });
      return new cw.Metric({ namespace: NAMESPACE, metricName: name, statistic: 'Sum', period: Duration.minutes(5) });
    };
    const failedRuns = jobMetric('FailedRuns', `{ ($.detail.status = "FAILED") && ($.detail.jobQueue = "${props.headQueueArn}") }`);
    const failedTasks = jobMetric('FailedTasks', `{ ($.detail.status = "FAILED") && ($.detail.jobQueue = "${props.taskQueueArn}") }`);
    const queued = jobMetric('JobsQueued', '{ $.detail.status = "RUNNABLE" }');
    const started = jobMetric('JobsStarted', '{ $.detail.status = "RUNNING" }');

    // A head job that fails is a failed run (Nextflow exits non-zero when the pipeline fails).
    this.failedRuns = failedRuns.createAlarm(this, 'FailedRunsAlarm', {
      alarmName: `${config.name}-failed-runs`,
      alarmDescription: 'A Nextflow head job (one run) failed',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    // Stuck: jobs became runnable and not one started (no capacity, bad launch template, vCPU limit). A window in which
    // a job started is 0 (OK); one with jobs queued and none started is 1 (ALARM); a window with neither has no data
    // point (the two-argument IF), and missing data is ignored: the alarm keeps its state until a job starts, instead
    // of clearing one window later while the queue is still stuck.
    const window = Duration.minutes(config.alarms.stuckQueueMinutes);
    this.stuckQueue = new cw.MathExpression({
      expression: STUCK_QUEUE_EXPRESSION,
      usingMetrics: { queued: queued.with({ period: window }), started: started.with({ period: window }) },
      period: window,
      label: 'queue stuck',
    }).createAlarm(this, 'StuckQueueAlarm', {
      alarmName: `${config.name}-batch-queue-stuck`,
      alarmDescription: `Batch jobs were queued and none started for ${config.alarms.stuckQueueMinutes} minutes`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cw.TreatMissingData.IGNORE,
    });

    const dlqDepth = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) });
    const dlqAlarm = dlqDepth.createAlarm(this, 'DeadLettersAlarm', {
      alarmName: `${config.name}-upload-trigger-dead-letters`,
      alarmDescription: 'Upload events failed every retry; see the dead-letter queue',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    const api5xx = props.loadBalancer.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: Duration.minutes(5) });
    const apiErrors = api5xx.createAlarm(this, 'Api5xxAlarm', {
      alarmName: `${config.name}-api-5xx`,
      alarmDescription: 'The API answered 5xx repeatedly',
      threshold: 10,
      evaluationPeriods: 2,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    const unhealthy = props.targetGroup.metrics.unhealthyHostCount({ period: Duration.minutes(1) }).createAlarm(this, 'UnhealthyApiAlarm', {
      alarmName: `${config.name}-api-unhealthy`,
      alarmDescription: 'API tasks fail the /healthz check',
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    const dbStorage = props.database.metricFreeStorageSpace({ period: Duration.minutes(15) }).createAlarm(this, 'DbStorageAlarm', {
      alarmName: `${config.name}-db-free-storage`,
      alarmDescription: 'Less than 5 GiB free on the database',
      threshold: 5 * 1024 ** 3,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD,
    });
    const triggerErrors = props.trigger.metricErrors({ period: Duration.minutes(5) }).createAlarm(this, 'TriggerErrorsAlarm', {
      alarmName: `${config.name}-upload-trigger-errors`,
      alarmDescription: 'The upload trigger is failing (events are being retried)',
      threshold: 3,
      evaluationPeriods: 1,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.failedRuns, this.stuckQueue, dlqAlarm, apiErrors, unhealthy, dbStorage, triggerErrors])
      alarm.addAlarmAction(action);

    this.dashboard = new cw.Dashboard(this, 'Dashboard', { dashboardName: `${config.name}-platform` });
    this.dashboard.addWidgets(
      new cw.AlarmStatusWidget({
        title: 'Alarms',
        alarms: [this.failedRuns, this.stuckQueue, dlqAlarm, apiErrors, unhealthy, dbStorage, triggerErrors],
        width: 24,
      }),
    );
    this.dashboard.addWidgets(
      new cw.GraphWidget({ title: 'Batch jobs', left: [queued, started, failedTasks, failedRuns], width: 12 }),
      new cw.GraphWidget({
        title: 'API',
        left: [props.loadBalancer.metrics.requestCount({ period: Duration.minutes(5) }), api5xx],
        right: [props.loadBalancer.metrics.targetResponseTime({ period: Duration.minutes(5) })],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cw.GraphWidget({
        title: 'API tasks',
        left: [props.service.metricCpuUtilization(), props.service.metricMemoryUtilization()],
        width: 8,
      }),
      new cw.GraphWidget({
        title: 'Database',
        left: [props.database.metricCPUUtilization(), props.database.metricDatabaseConnections()],
        right: [props.database.metricFreeStorageSpace()],
        width: 8,
      }),
      new cw.GraphWidget({
        title: 'Upload trigger',
        left: [props.trigger.metricInvocations(), props.trigger.metricErrors(), dlqDepth],
        width: 8,
      }),
    );
  }
}
