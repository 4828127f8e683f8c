// What the on-call engineer opens in the portal: one workbook and the alerts that guard the
// promises (raw data gone after 24 months, the salt protecting every pseudonym, the API up).
// Every query is its own file in infra/queries, loaded here; tests/test_telemetry_queries.py
// checks that each metric name, event and custom dimension a query uses is one the code emits.
// docs/operations.md says what each alert means and the first three steps.
param location string
param tags object
param applicationInsightsName string

@description('Resource id of the action group alerts notify (e-mail, Teams, on-call tool). Empty: alerts fire without notifying anyone.')
param actionGroupId string = ''

@description('Percent of API responses that are 503 (storage or Key Vault) above which to alert.')
@minValue(1)
@maxValue(100)
param unavailablePercentThreshold int = 5

@description('Rotation policy: days a salt version may be the current one before the alert asks for a rotation.')
@minValue(30)
param saltRotationDays int = 365

resource insights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var actions = empty(actionGroupId) ? [] : [actionGroupId]

// ---- alerts ----------------------------------------------------------------------------------

resource retentionOverdue 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${applicationInsightsName}-retention-overdue'
  location: location
  tags: tags
  properties: {
    displayName: 'Retention overdue or raw data older than 24 months'
    description: 'No retention run succeeded for 36 h, or a raw-event day older than 24 months is still stored. docs/operations.md: "Retention overdue".'
    severity: 1
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT1H'
    windowSize: 'P2D'
    criteria: {
      allOf: [
        {
          query: loadTextContent('../queries/alert-retention-overdue.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: actions }
  }
}

resource aggregationFailed 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${applicationInsightsName}-aggregation-failed'
  location: location
  tags: tags
  properties: {
    displayName: 'Aggregation run failed'
    description: 'A daily or on-demand aggregation run ended in an error. docs/operations.md: "Aggregation failed".'
    severity: 2
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: loadTextContent('../queries/alert-aggregation-failed.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: actions }
  }
}

resource unavailableRate 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${applicationInsightsName}-unavailable-rate'
  location: location
  tags: tags
  properties: {
    displayName: '503 rate above ${unavailablePercentThreshold}%'
    description: 'Storage or Key Vault trouble: clients are told to retry. docs/operations.md: "503 rate".'
    severity: 1
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: loadTextContent('../queries/alert-unavailable-rate.kql')
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'unavailable_percent'
          operator: 'GreaterThan'
          threshold: unavailablePercentThreshold
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: actions }
  }
}

resource keyVaultFailures 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${applicationInsightsName}-keyvault-failures'
  location: location
  tags: tags
  properties: {
    displayName: 'Key Vault failures reading the pseudonym salt'
    description: 'The salt could not be read, listed or used. docs/operations.md: "Key Vault failures".'
    severity: 2
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: loadTextContent('../queries/alert-keyvault-failures.kql')
          timeAggregation: 'Total'
          metricMeasureColumn: 'failures'
          dimensions: [{ name: 'event', operator: 'Include', values: ['*'] }]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: actions }
  }
}

resource saltRotationOverdue 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${applicationInsightsName}-salt-rotation-overdue'
  location: location
  tags: tags
  properties: {
    displayName: 'Salt version older than the rotation policy still in use'
    description: 'The current pseudonym salt version was first used more than ${saltRotationDays} days ago. docs/operations.md: "Salt rotation overdue".'
    severity: 3
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT6H'
    windowSize: 'P2D'
    criteria: {
      allOf: [
        {
          query: loadTextContent('../queries/alert-salt-rotation-overdue.kql')
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'age_days'
          dimensions: [{ name: 'salt_version', operator: 'Include', values: ['*'] }]
          operator: 'GreaterThan'
          threshold: saltRotationDays
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: actions }
  }
}

// ---- workbook --------------------------------------------------------------------------------

var timeRange = {
  type: 1
  content: {
    version: 'KqlParameterItem/1.0'
    parameters: [
      {
        id: 'timerange'
        version: 'KqlParameterItem/1.0'
        name: 'TimeRange'
        label: 'Time range'
        type: 4
        isRequired: true
        value: { durationMs: 86400000 }
        typeSettings: {
          selectableValues: [
            { durationMs: 3600000 }
            { durationMs: 14400000 }
            { durationMs: 86400000 }
            { durationMs: 604800000 }
            { durationMs: 2592000000 }
          ]
        }
      }
    ]
  }
  name: 'parameters'
}

var panels = [
  { name: 'ingestion', title: 'Ingestion: events stored and dropped', file: loadTextContent('../queries/workbook-ingestion.kql'), visualization: 'timechart' }
  { name: 'consent', title: 'Consent decisions (counts only)', file: loadTextContent('../queries/workbook-consent.kql'), visualization: 'table' }
  { name: 'errors', title: 'Errors by code and 503s by dependency', file: loadTextContent('../queries/workbook-errors.kql'), visualization: 'timechart' }
  { name: 'requests', title: 'Requests, error and 503 rates per route', file: loadTextContent('../queries/workbook-requests.kql'), visualization: 'table' }
  { name: 'jobs', title: 'Timer runs and outcomes', file: loadTextContent('../queries/workbook-jobs.kql'), visualization: 'table' }
  { name: 'retention', title: 'Oldest raw day and distance to the 24-month line', file: loadTextContent('../queries/workbook-retention.kql'), visualization: 'table' }
  { name: 'aggregation', title: 'Aggregation: days built, cells written, events suppressed (k rule)', file: loadTextContent('../queries/workbook-aggregation.kql'), visualization: 'table' }
  { name: 'keyvault', title: 'Key Vault health', file: loadTextContent('../queries/workbook-keyvault.kql'), visualization: 'timechart' }
  { name: 'salt', title: 'Salt versions in use', file: loadTextContent('../queries/workbook-salt-versions.kql'), visualization: 'table' }
]

var panelItems = [for panel in panels: {
  type: 3
  name: panel.name
  content: {
    version: 'KqlItem/1.0'
    title: panel.title
    query: panel.file
    size: 0
    timeContextFromParameter: 'TimeRange'
    queryType: 0
    resourceType: 'microsoft.insights/components'
    visualization: panel.visualization
  }
}]

var workbook = {
  version: 'Notebook/1.0'
  items: concat([timeRange], panelItems)
  fallbackResourceIds: [insights.id]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource operations 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(insights.id, 'cetegra-analytics-operations')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Cetegra Analytics: operations'
    category: 'workbook'
    sourceId: insights.id
    serializedData: string(workbook)
  }
}

output workbookId string = operations.id
