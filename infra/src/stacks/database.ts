// Database: RDS PostgreSQL 16 in the isolated subnets, encrypted, credentials in Secrets Manager with rotation.
import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { logGroup, platformKey } from '../common.js';
import type { PlatformConfig } from '../config.js';

export interface DatabaseStackProps extends StackProps {
  vpc: ec2.IVpc;
}

export class DatabaseStack extends Stack {
  readonly instance: rds.DatabaseInstance;
  /** Master login: used only by the migration task to create the application role, and by the rotation functions. */
  readonly secret: rds.DatabaseSecret;
  /** The application's login (not the master), rotated with the multi-user scheme; the API reads it per connection. */
  readonly appSecret: secretsmanager.ISecret;
  readonly key: kms.Key;
  /** Attach this group to whatever may connect (API service, migration task); nothing else gets in. */
  readonly clientSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, config: PlatformConfig, props: DatabaseStackProps) {
    super(scope, id, props);
    const key = platformKey(this, 'Key', `${config.name} database (storage, secret, logs)`);
    this.key = key;
    const db = config.database;

    this.clientSecurityGroup = new ec2.SecurityGroup(this, 'ClientSg', {
      vpc: props.vpc,
      description: 'Members may connect to the platform database',
      allowAllOutbound: false,
    });
    const dbSg = new ec2.SecurityGroup(this, 'DbSg', {
      vpc: props.vpc,
      description: 'Platform PostgreSQL: only from database clients and the rotation function',
      allowAllOutbound: false,
    });
    dbSg.addIngressRule(this.clientSecurityGroup, ec2.Port.tcp(5432), 'PostgreSQL from database clients');
    this.clientSecurityGroup.addEgressRule(dbSg, ec2.Port.tcp(5432), 'PostgreSQL to the platform database');

    // RDS would create its export log groups unencrypted and without retention; create them first instead.
    const identifier = `${config.name}-postgres`;
    const exports = ['postgresql', 'upgrade'];
    const exportGroups = exports.map((e) => logGroup(this, `Logs-${e}`, `/aws/rds/instance/${identifier}/${e}`, key, config));

    this.secret = new rds.DatabaseSecret(this, 'Secret', {
      username: 'scrna_admin',
      secretName: `${config.name}/database`,
      encryptionKey: key,
      dbname: db.databaseName,
    });
    this.instance = new rds.DatabaseInstance(this, 'Postgres', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.of(db.engineVersion, '16') }),
      instanceType: new ec2.InstanceType(db.instanceType),
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [dbSg],
      publiclyAccessible: false,
      port: 5432,
      credentials: rds.Credentials.fromSecret(this.secret),
      databaseName: db.databaseName,
      storageEncrypted: true,
      storageEncryptionKey: key,
      allocatedStorage: db.allocatedStorageGiB,
      maxAllocatedStorage: db.maxAllocatedStorageGiB,
      storageType: rds.StorageType.GP3,
      multiAz: db.multiAz,
      backupRetention: Duration.days(db.backupRetentionDays),
      deletionProtection: db.deletionProtection,
      // `cdk destroy` (once deletion protection is off) always leaves a final snapshot; it is never deleted with the stack.
      removalPolicy: RemovalPolicy.SNAPSHOT,
      autoMinorVersionUpgrade: true,
      iamAuthentication: true,
      monitoringInterval: Duration.seconds(60),
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: key,
      instanceIdentifier: identifier,
      cloudwatchLogsExports: exports,
      parameterGroup: new rds.ParameterGroup(this, 'Params', {
        engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.of(db.engineVersion, '16') }),
        // Clients must use TLS: the API connects with sslmode=require.
        parameters: { 'rds.force_ssl': '1', log_min_duration_statement: '1000' },
      }),
    });

    for (const g of exportGroups) this.instance.node.addDependency(g);

    // The application user: created by the migration task (scrna migrate) from this secret; the multi-user rotation
    // alternates scrna_app and scrna_app_clone, so the login in use keeps working while the other one is changed.
    this.appSecret = new rds.DatabaseSecret(this, 'AppSecret', {
      username: 'scrna_app',
      secretName: `${config.name}/database-app`,
      encryptionKey: key,
      dbname: db.databaseName,
      masterSecret: this.secret,
    }).attach(this.instance);

    // Rotation runs in the private subnets and reaches Secrets Manager through the VPC endpoint.
    // (Built directly rather than with addRotationSingleUser so the database rule names port 5432, not a token.)
    const target = { connections: new ec2.Connections({ securityGroups: [dbSg], defaultPort: ec2.Port.tcp(5432) }) };
    const rotation = {
      target,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      automaticallyAfter: Duration.days(db.rotationDays),
    };
    new secretsmanager.SecretRotation(this, 'Rotation', {
      ...rotation,
      application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
      secret: this.secret,
    });
    new secretsmanager.SecretRotation(this, 'AppRotation', {
      ...rotation,
      application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_MULTI_USER,
      secret: this.appSecret,
      masterSecret: this.secret,
    });
  }
}
