// Network: VPC over two AZs (public / private-with-NAT / isolated), NACLs, VPC endpoints, flow logs.
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { logGroup, platformKey } from '../common.js';
import type { PlatformConfig } from '../config.js';

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
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });

    const flowLogs = logGroup(this, 'FlowLogs', `/${config.name}/vpc/flow-logs`, key, config, config.network.flowLogRetentionDays);
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    // Isolated subnets hold only the database: they accept PostgreSQL from inside the VPC and its replies, nothing else.
    const isolatedAcl = new ec2.NetworkAcl(this, 'IsolatedAcl', {
      vpc: this.vpc,
      subnetSelection: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    });
    const vpcCidr = ec2.AclCidr.ipv4(config.network.cidr);
    isolatedAcl.addEntry('PostgresIn', {
      ruleNumber: 100,
      cidr: vpcCidr,
      traffic: ec2.AclTraffic.tcpPort(5432),
      direction: ec2.TrafficDirection.INGRESS,
    });
    isolatedAcl.addEntry('EphemeralIn', {
      ruleNumber: 110,
      cidr: vpcCidr,
      traffic: ec2.AclTraffic.tcpPortRange(1024, 65535),
      direction: ec2.TrafficDirection.INGRESS,
    });
    isolatedAcl.addEntry('VpcOut', {
      ruleNumber: 100,
      cidr: vpcCidr,
      traffic: ec2.AclTraffic.allTraffic(),
      direction: ec2.TrafficDirection.EGRESS,
    });

    // AWS APIs stay on the AWS network: S3 through a gateway endpoint, the rest through interface endpoints.
    this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
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
}
