{{/* Names, labels and the settings every deployable shares. */}}

{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "sluice.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "sluice.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sluice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "api"). */}}
{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sluice.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
The settings as a map, name → value: the env file in `configFile` (KEY=value lines, whole-line
`#` comments), then the engines' addresses, then `config`; the later wins. A line that is not
KEY=value stops the render.
*/}}
{{- define "sluice.settings" -}}
{{- $settings := dict -}}
{{- range $number, $line := splitList "\n" .Values.configFile -}}
{{- $text := trim $line -}}
{{- if and $text (not (hasPrefix "#" $text)) -}}
{{- if not (regexMatch "^[A-Z][A-Z0-9_]*=" $text) -}}
{{- fail (printf "configFile line %d is not KEY=value: %s" (add1 $number) $text) -}}
{{- end -}}
{{- $pair := regexSplit "=" $text 2 -}}
{{- $_ := set $settings (index $pair 0) (index $pair 1) -}}
{{- end -}}
{{- end -}}
{{- with .Values.engines -}}
{{- $_ := set $settings "ELASTIC_HOST" .elasticsearch.hosts -}}
{{- if .elasticsearch.caSecret.name -}}
{{- $_ := set $settings "ELASTIC_CA_FILE" "/etc/sluice/elasticsearch-ca/ca.pem" -}}
{{- end -}}
{{- $_ := set $settings "PULSAR_WEB_HOST" .pulsar.webHost -}}
{{- $_ := set $settings "PULSAR_HOST" .pulsar.host -}}
{{- $_ := set $settings "REDIS_HOST" .redis.cache -}}
{{- if .redis.jobs -}}
{{- $_ := set $settings "JOBS_REDIS_HOST" .redis.jobs -}}
{{- end -}}
{{- if .mysql.host -}}
{{- $_ := set $settings "MYSQL_HOST" .mysql.host -}}
{{- $_ := set $settings "MYSQL_PORT" (toString .mysql.port) -}}
{{- end -}}
{{- end -}}
{{- range $name, $value := .Values.config -}}
{{- $_ := set $settings $name (toString $value) -}}
{{- end -}}
{{- /* Set by the chart itself: every replica listens on the pod's address, data on its volume. */ -}}
{{- $_ := set $settings "HOST" "0.0.0.0" -}}
{{- $_ := set $settings "PORT" (toString .Values.port) -}}
{{- $_ := set $settings "DATA_DIR" "/data" -}}
{{- toYaml $settings -}}
{{- end -}}

{{/* The Secret keys this chart creates for `value`s: (list envName valuesEntry) pairs. */}}
{{- define "sluice.secretEntries" -}}
{{- $entries := dict -}}
{{- $_ := set $entries "ADMIN_TOKEN" .Values.secrets.adminToken -}}
{{- $_ := set $entries "PULSAR_AUTH_TOKEN" .Values.secrets.pulsarAuthToken -}}
{{- $_ := set $entries "REDIS_PASSWORD" .Values.secrets.redisPassword -}}
{{- $_ := set $entries "JOBS_REDIS_PASSWORD" .Values.secrets.jobsRedisPassword -}}
{{- $_ := set $entries "MYSQL_PASSWORD" .Values.secrets.mysqlPassword -}}
{{- range $component, $user := .Values.elasticsearchUsers -}}
{{- $_ := set $entries (printf "ELASTIC_PASSWORD_%s" (upper $component)) $user.password -}}
{{- end -}}
{{- toYaml $entries -}}
{{- end -}}

{{/* One env entry from a secret: (dict "root" $ "env" NAME "key" SECRET_KEY "secret" valuesEntry). */}}
{{- define "sluice.secretEnv" -}}
{{- if .secret.existingSecret }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret.existingSecret }}
      key: {{ required (printf "%s: existingSecret needs its key" .env) .secret.key }}
{{- else if .secret.value }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "sluice.fullname" .root }}{{ if eq .component "init" }}-init{{ end }}
      key: {{ .key }}
{{- end }}
{{- end -}}

{{/* The env of one deployable: (dict "root" $ "component" "api"|"worker"|"jobs"|"init"). */}}
{{- define "sluice.env" -}}
{{- $root := .root -}}
{{- $user := index $root.Values.elasticsearchUsers .component -}}
- name: ELASTIC_HTTP_AUTH_USERNAME
  value: {{ $user.username | quote }}
{{- include "sluice.secretEnv" (dict "root" $root "component" .component "env" "ELASTIC_HTTP_AUTH_PASSWORD" "key" (printf "ELASTIC_PASSWORD_%s" (upper .component)) "secret" $user.password) }}
{{- include "sluice.secretEnv" (dict "root" $root "component" .component "env" "PULSAR_AUTH_TOKEN" "key" "PULSAR_AUTH_TOKEN" "secret" $root.Values.secrets.pulsarAuthToken) }}
{{- if ne .component "init" }}
{{- include "sluice.secretEnv" (dict "root" $root "component" .component "env" "REDIS_PASSWORD" "key" "REDIS_PASSWORD" "secret" $root.Values.secrets.redisPassword) }}
{{- include "sluice.secretEnv" (dict "root" $root "component" .component "env" "JOBS_REDIS_PASSWORD" "key" "JOBS_REDIS_PASSWORD" "secret" $root.Values.secrets.jobsRedisPassword) }}
{{- include "sluice.secretEnv" (dict "root" $root "component" .component "env" "MYSQL_PASSWORD" "key" "MYSQL_PASSWORD" "secret" $root.Values.secrets.mysqlPassword) }}
{{- end }}
{{- if eq .component "api" }}
{{- include "sluice.secretEnv" (dict "root" $root "component" .component "env" "ADMIN_TOKEN" "key" "ADMIN_TOKEN" "secret" $root.Values.secrets.adminToken) }}
{{- end }}
{{- end -}}

{{/* Volumes every deployable mounts: DATA_DIR, /tmp, and the Elasticsearch CA. */}}
{{- define "sluice.volumes" -}}
- name: data
  {{- if .dataVolume }}
  {{- toYaml .dataVolume | nindent 2 }}
  {{- else }}
  emptyDir: {sizeLimit: {{ .dataSizeLimit }}}
  {{- end }}
- name: tmp
  emptyDir: {sizeLimit: 64Mi}
{{- with .root.Values.engines.elasticsearch.caSecret }}
{{- if .name }}
- name: elasticsearch-ca
  secret:
    secretName: {{ .name }}
    items:
      - key: {{ .key }}
        path: ca.pem
{{- end }}
{{- end }}
{{- end -}}

{{- define "sluice.volumeMounts" -}}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- if .Values.engines.elasticsearch.caSecret.name }}
- name: elasticsearch-ca
  mountPath: /etc/sluice/elasticsearch-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* The container of one deployable: (dict "root" $ "component" NAME "args" LIST "resources" MAP "probes" BOOL). */}}
{{- define "sluice.container" -}}
- name: {{ .component }}
  image: {{ include "sluice.image" .root }}
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  args: {{ toJson .args }}
  envFrom:
    - configMapRef:
        name: {{ include "sluice.fullname" .root }}{{ if eq .component "init" }}-init{{ end }}
  env:
    {{- include "sluice.env" (dict "root" .root "component" .component) | nindent 4 }}
  {{- if .probes }}
  ports:
    - name: http
      containerPort: {{ .root.Values.port }}
      protocol: TCP
  # Alive: the process answers. Ready: every dependency answers and init has run (503 while draining).
  livenessProbe:
    httpGet: {path: /healthz, port: http}
    periodSeconds: 10
    timeoutSeconds: 3
    failureThreshold: 3
  readinessProbe:
    httpGet: {path: /readyz, port: http}
    periodSeconds: 5
    timeoutSeconds: 3
    failureThreshold: 2
  startupProbe:
    httpGet: {path: /healthz, port: http}
    periodSeconds: 2
    failureThreshold: 30
  {{- end }}
  {{- if eq .component "api" }}
  # Endpoints and load balancers take a few seconds to drop a terminating pod: keep serving
  # until they have, then SIGTERM drains (stop accepting, finish in-flight requests, flush).
  lifecycle:
    preStop:
      sleep: {seconds: 5}
  {{- end }}
  resources:
    {{- toYaml .resources | nindent 4 }}
  securityContext:
    {{- toYaml .root.Values.securityContext | nindent 4 }}
  volumeMounts:
    {{- include "sluice.volumeMounts" .root | nindent 4 }}
{{- end -}}

{{/* Spread one component's pods over nodes and zones, as far as the cluster allows. */}}
{{- define "sluice.topologySpread" -}}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "sluice.selectorLabels" . | nindent 6 }}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "sluice.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* A Deployment of one replica kind: (dict "root" $ "component" NAME "values" .Values.NAME "spread" BOOL). */}}
{{- define "sluice.deployment" -}}
{{- $root := .root -}}
{{- $values := .values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "sluice.fullname" $root }}-{{ .component }}
  labels:
    {{- include "sluice.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not (and $values.autoscaling $values.autoscaling.enabled) }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "sluice.selectorLabels" (dict "root" $root "component" .component) | nindent 6 }}
  strategy:
    type: RollingUpdate
    # One replica at a time, a new one ready before an old one drains.
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels:
        {{- include "sluice.selectorLabels" (dict "root" $root "component" .component) | nindent 8 }}
      annotations:
        # A changed setting or credential rolls the pods.
        checksum/config: {{ include "sluice.settings" $root | sha256sum }}
        checksum/secret: {{ include "sluice.secretEntries" $root | sha256sum }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "sluice.serviceAccountName" $root }}
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
      containers:
        {{- include "sluice.container" (dict "root" $root "component" .component "args" (list .component) "resources" $values.resources "probes" true) | nindent 8 }}
      volumes:
        {{- include "sluice.volumes" (dict "root" $root "dataVolume" $values.dataVolume "dataSizeLimit" $values.dataSizeLimit) | nindent 8 }}
      {{- if and .spread $values.topologySpread }}
      topologySpreadConstraints:
        {{- include "sluice.topologySpread" (dict "root" $root "component" .component) | nindent 8 }}
      {{- end }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

{{/* A PodDisruptionBudget: (dict "root" $ "component" NAME "budget" .Values.NAME.podDisruptionBudget). */}}
{{- define "sluice.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "sluice.fullname" .root }}-{{ .component }}
  labels:
    {{- include "sluice.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  maxUnavailable: {{ .budget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "sluice.selectorLabels" (dict "root" .root "component" .component) | nindent 6 }}
{{- end -}}
