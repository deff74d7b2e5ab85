// Network: VPC over two AZs (public / private-with-NAT / isolated), NACLs, VPC endpoints, flow logs.
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { bucketName, logGroup, PLATFORM_BUCKETS, platformKey } from '../common.js';
import { type PlatformConfig, SUBNET_MASKS } from '../config.js';

export class NetworkStack extends Stack {
  readonly vpc: ec2.Vpc;
  /** Security group of the interface endpoints; consumers add themselves as allowed sources. */
  readonly endpointSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, config: PlatformConfig, props: StackProps) {
    super(scope, id, props);
    const key = platformKey(this, 'Key', `${config.name} network (flow logs)`);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(config.network.cidr),
      availabilityZones: config.network.availabilityZones,
      natGateways: config.network.natGateways,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: SUBNET_MASKS.public, mapPublicIpOnLaunch: false },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: SUBNET_MASKS.private },
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: SUBNET_MASKS.isolated },
      ],
    });

    const flowLogs = logGroup(this, 'FlowLogs', `/${config.name}/vpc/flow-logs`, key, config, config.network.flowLogRetentionDays);
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    this.addAcls(config);

    // AWS APIs stay on the AWS network: S3 through a gateway endpoint whose policy names only the platform's buckets
    // (and the bucket ECR serves image layers from), the rest through interface endpoints.
    const s3 = this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    const buckets = PLATFORM_BUCKETS.map((purpose) => `arn:aws:s3:::${bucketName(config, purpose)}`);
    s3.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PlatformBuckets',
        principals: [new iam.AnyPrincipal()],
        actions: [
          's3:GetObject*',
          's3:PutObject*',
          's3:DeleteObject*',
          's3:ListBucket*',
          's3:GetBucketLocation',
          's3:AbortMultipartUpload',
          's3:ListMultipartUploadParts',
        ],
        resources: [...buckets, ...buckets.map((b) => `${b}/*`)],
      }),
    );
    s3.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EcrImageLayers',
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject'],
        resources: [`arn:aws:s3:::prod-${config.region}-starport-layer-bucket/*`],
      }),
    );
    this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSg', {
      vpc: this.vpc,
      description: 'Interface VPC endpoints: HTTPS from inside the VPC',
      allowAllOutbound: false,
    });
    this.endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(config.network.cidr), ec2.Port.tcp(443), 'HTTPS from the VPC');
    const services: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Batch: ec2.InterfaceVpcEndpointAwsService.BATCH,
      Sts: ec2.InterfaceVpcEndpointAwsService.STS,
      Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
      // The ECS agent on Batch instances registers and reports through these; no internet route is needed for it.
      Ecs: ec2.InterfaceVpcEndpointAwsService.ECS,
      EcsAgent: ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
      EcsTelemetry: ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
    };
    for (const [id, service] of Object.entries(services)) {
      this.vpc.addInterfaceEndpoint(id, {
        service,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [this.endpointSecurityGroup],
        privateDnsEnabled: true,
        open: false, // the endpoint group's own rule (HTTPS from the VPC) is the only way in
      });
    }
  }

  /**
   * Network ACLs per tier, admitting only the platform's flows (they are stateless, so each flow's replies too):
   * public (load balancer, NAT), private (API tasks, Batch, Lambdas, endpoints), isolated (the database).
   */
  private addAcls(config: PlatformConfig): void {
    const anywhere = ec2.AclCidr.anyIpv4();
    const vpc = ec2.AclCidr.ipv4(config.network.cidr);
    const ephemeral = ec2.AclTraffic.tcpPortRange(1024, 65535);
    const cidrsOf = (subnets: ec2.ISubnet[]) => subnets.map((s) => ec2.AclCidr.ipv4(s.ipv4CidrBlock));
    const acl = (id: string, subnetType: ec2.SubnetType) => {
      const a = new ec2.NetworkAcl(this, id, { vpc: this.vpc, subnetSelection: { subnetType } });
      let inRule = 100;
      let outRule = 100;
      return {
        in: (name: string, cidrs: ec2.AclCidr[], traffic: ec2.AclTraffic) => {
          for (const [i, cidr] of cidrs.entries())
            a.addEntry(`In${name}${i}`, { ruleNumber: inRule++, cidr, traffic, direction: ec2.TrafficDirection.INGRESS });
        },
        out: (name: string, cidrs: ec2.AclCidr[], traffic: ec2.AclTraffic) => {
          for (const [i, cidr] of cidrs.entries())
            a.addEntry(`Out${name}${i}`, { ruleNumber: outRule++, cidr, traffic, direction: ec2.TrafficDirection.EGRESS });
        },
      };
    };
    const clients = config.api.allowedCidrs.map((c) => ec2.AclCidr.ipv4(c));
    const privateCidrs = cidrsOf(this.vpc.privateSubnets);

    const pub = acl('PublicAcl', ec2.SubnetType.PUBLIC);
    pub.in('HttpsFromClients', clients, ec2.AclTraffic.tcpPort(443));
    pub.in('HttpFromClients', clients, ec2.AclTraffic.tcpPort(80)); // answered with a redirect to HTTPS
    pub.in('HttpsToNat', privateCidrs, ec2.AclTraffic.tcpPort(443));
    pub.in('Replies', [anywhere], ephemeral); // to the NAT's and the load balancer's own connections
    pub.out('ToTargets', privateCidrs, ec2.AclTraffic.tcpPort(8080));
    pub.out('HttpsFromNat', [anywhere], ec2.AclTraffic.tcpPort(443));
    pub.out('Replies', [anywhere], ephemeral);

    const priv = acl('PrivateAcl', ec2.SubnetType.PRIVATE_WITH_EGRESS);
    priv.in('ApiFromLoadBalancers', [vpc], ec2.AclTraffic.tcpPort(8080));
    priv.in('HttpsInVpc', [vpc], ec2.AclTraffic.tcpPort(443)); // interface endpoints and the internal load balancer
    priv.in('Replies', [anywhere], ephemeral); // from S3 (public addresses via the gateway), NAT, endpoints, database
    priv.out('Https', [anywhere], ec2.AclTraffic.tcpPort(443));
    priv.out('Postgres', cidrsOf(this.vpc.isolatedSubnets), ec2.AclTraffic.tcpPort(5432));
    priv.out('ApiInVpc', [vpc], ec2.AclTraffic.tcpPort(8080));
    priv.out('Replies', [vpc], ephemeral);

    const iso = acl('IsolatedAcl', ec2.SubnetType.PRIVATE_ISOLATED);
    iso.in('PostgresFromPrivate', privateCidrs, ec2.AclTraffic.tcpPort(5432));
    iso.out('RepliesToPrivate', privateCidrs, ephemeral);
  }
}
